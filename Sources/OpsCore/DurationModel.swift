#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the daemon knows about how long operations of one kind take: seconds from acceptance to the poll that saw
/// 200. Pure and immutable; the engine rebuilds it from the store when a job of the kind succeeds.
///
/// The distribution is a kernel-smoothed empirical one on a log scale (each observation spreads as a narrow
/// log-normal of `bandwidth`), so a handful of observations already gives a usable, smooth density, and the model
/// never claims an operation cannot end at a time nobody has seen yet.
///
/// A small share (`tailWeight`) always belongs to a broad log-normal around the prior's middle (σ 0.8): the model
/// never rules out an end far from what was seen, and past the observed durations the hazard falls again, so the
/// schedule backs off in the tail instead of polling a long-overdue operation at its densest.
///
/// Before there is history, the kind's prior (``JobKindSpec/typicalDuration``) stands in as `priorWeight` evenly
/// spread pseudo-observations; each real observation takes one of their places, so the first `priorWeight`
/// successes move the model smoothly from the prior to what Kinsta really does.
public struct DurationModel: Sendable, Hashable {
    /// Spread of each point on the log scale.
    public let bandwidth: Double
    /// How many real observations the model holds.
    public let observations: Int
    /// The distribution, tabulated once on a log grid (`gridStep` apart from `gridLow`): the CDF, and the density
    /// per log-second. Every query interpolates, so asking costs the same however many observations there are;
    /// the schedule asks hundreds of times per decision, and the claim ranking once per due job.
    private let cdfTable: [Double]
    private let logDensityTable: [Double]
    private static let tailSpread = 0.8
    private static let binWidth = 0.01
    private static let gridStep = 0.005
    /// The grid spans about 0.1 s to 10⁷ s (four months): past either end the CDF is taken as 0 or 1. It starts on a
    /// whole bin, so every binned observation sits exactly on a grid point.
    private static let gridLow = -2.31
    private static let gridCount = Int(((log(1e7) - gridLow) / gridStep).rounded(.up)) + 1

    /// - Parameters:
    ///   - prior: seconds within which operations of the kind typically end (the prior, before any history).
    ///   - durations: observed durations in seconds, any order (non-positive values are ignored).
    ///   - priorWeight: how many observations the prior is worth.
    ///   - bandwidth: kernel width on the log scale (0.08 ≈ ±8 %).
    ///   - tailWeight: share of the broad tail component (0–0.5).
    public init(
        prior: ClosedRange<Double>,
        durations: [Double] = [],
        priorWeight: Int = 20,
        bandwidth: Double = 0.08,
        tailWeight: Double = 0.02
    ) {
        let observed = durations.filter { $0 > 0 && $0.isFinite }
        let step = Self.gridStep
        let count = Self.gridCount
        func gridIndex(_ logSeconds: Double) -> Int {
            min(max(Int(((logSeconds - Self.gridLow) / step).rounded()), 0), count - 1)
        }
        // Observations are binned on the log scale (1 % wide, far below the bandwidth), then put on the grid: the
        // model costs the same whether 30 or 500 durations are kept.
        var mass = [Double](repeating: 0, count: count)
        for seconds in observed {
            let bin = (log(seconds) / Self.binWidth).rounded() * Self.binWidth
            mass[gridIndex(bin)] += 1
        }
        let priorCount = max(priorWeight, 1)
        let priorShare = Double(max(priorWeight - observed.count, 0)) / Double(priorCount)
        if priorShare > 0 {
            let low = max(prior.lowerBound, 0.1)
            let high = max(prior.upperBound, low)
            for index in 0..<priorCount {
                // Evenly spread over the range (linear seconds: the prior says "anywhere in 1–5 min").
                let seconds = low + (high - low) * (Double(index) + 0.5) / Double(priorCount)
                mass[gridIndex(log(seconds))] += priorShare
            }
        }
        let totalWeight = mass.reduce(0, +)
        let bandwidth = max(bandwidth, 0.001)
        let tailWeight = min(max(tailWeight, 0), 0.5)
        let tailCentre = log((max(prior.lowerBound, 0.1) * max(prior.upperBound, prior.lowerBound, 0.1)).squareRoot())
        // Each point spreads as a Gaussian of `bandwidth` on the log scale, cut at ±8 bandwidths (beyond which its
        // CDF is 0 or 1 to double precision, near enough): a convolution with a precomputed kernel.
        let reach = Int((8 * bandwidth / step).rounded(.up))
        let kernelCDF = (-reach...reach).map { 0.5 * (1 + erf(Double($0) * step / (bandwidth * 2.0.squareRoot()))) }
        let kernelDensity = (-reach...reach).map { offset -> Double in
            let z = Double(offset) * step / bandwidth
            return exp(-0.5 * z * z) / (bandwidth * (2 * Double.pi).squareRoot())
        }
        var cdf = [Double](repeating: 0, count: count)
        var density = [Double](repeating: 0, count: count)
        var passed = [Double](repeating: 0, count: count + 1)  // mass whose kernel lies wholly below each index
        for centre in mass.indices where mass[centre] > 0 {
            let weight = totalWeight > 0 ? mass[centre] / totalWeight : 0
            for offset in -reach...reach {
                let index = centre + offset
                guard index >= 0, index < count else { continue }
                cdf[index] += weight * kernelCDF[offset + reach]
                density[index] += weight * kernelDensity[offset + reach]
            }
            passed[min(centre + reach + 1, count)] += weight
        }
        var below = 0.0
        for index in 0..<count {
            below += passed[index]
            let x = Self.gridLow + Double(index) * step
            let z = (x - tailCentre) / Self.tailSpread
            let tailCDF = 0.5 * (1 + erf(z / 2.0.squareRoot()))
            let tailDensity = exp(-0.5 * z * z) / (Self.tailSpread * (2 * Double.pi).squareRoot())
            cdf[index] = min(1, max(0, (1 - tailWeight) * (cdf[index] + below) + tailWeight * tailCDF))
            density[index] = (1 - tailWeight) * density[index] + tailWeight * tailDensity
        }
        // Rounding must not make the CDF step back.
        for index in 1..<count where cdf[index] < cdf[index - 1] { cdf[index] = cdf[index - 1] }
        self.cdfTable = cdf
        self.logDensityTable = density
        self.bandwidth = bandwidth
        self.observations = observed.count
    }

    /// Where `seconds` falls on the grid: the index below it and the fraction of the way to the next; `nil` past
    /// either end (below: -1, above: the count).
    private func locate(_ seconds: Double) -> (index: Int, fraction: Double) {
        let position = (log(seconds) - Self.gridLow) / Self.gridStep
        guard position >= 0 else { return (-1, 0) }
        guard position < Double(Self.gridCount - 1) else { return (Self.gridCount, 0) }
        let index = Int(position)
        return (index, position - Double(index))
    }

    /// P(duration ≤ `seconds`).
    public func cdf(_ seconds: Double) -> Double {
        guard seconds > 0 else { return 0 }
        let (index, fraction) = locate(seconds)
        if index < 0 { return 0 }
        if index >= Self.gridCount - 1 { return 1 }
        return cdfTable[index] + (cdfTable[index + 1] - cdfTable[index]) * fraction
    }

    /// P(duration > `seconds`).
    public func survival(_ seconds: Double) -> Double { 1 - cdf(seconds) }

    /// Probability density at `seconds`, per second.
    public func density(_ seconds: Double) -> Double {
        guard seconds > 0 else { return 0 }
        let (index, fraction) = locate(seconds)
        guard index >= 0, index < Self.gridCount - 1 else { return 0 }
        let perLogSecond = logDensityTable[index] + (logDensityTable[index + 1] - logDensityTable[index]) * fraction
        return perLogSecond / seconds
    }

    /// The duration below which a fraction `p` of operations end (bisection on the CDF, to 0.01 s).
    public func quantile(_ p: Double) -> Double {
        let target = min(max(p, 0), 1)
        var low = 0.0
        var high = 1.0
        while cdf(high) < target, high < 1e7 { high *= 2 }
        while high - low > 0.01 {
            let middle = (low + high) / 2
            if cdf(middle) < target { low = middle } else { high = middle }
        }
        return high
    }

    /// P(the operation ends in (`from`, `to`] | it was still running at `from`). 1 when the model says it should
    /// long be over.
    public func conditionalEnd(from: Double, to: Double) -> Double {
        let alive = survival(from)
        guard alive > 1e-12 else { return 1 }
        return min(1, max(0, (cdf(to) - cdf(from)) / alive))
    }
}
