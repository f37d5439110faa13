#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One operation's end as the polls saw it, in seconds since acceptance: after `low` (the last look that found it
/// not finished, 0 when none did) and no later than `high` (the look that found it finished). `high == nil`: it was
/// still running at `low` when it was last seen (right-censored: a deadline, a cancel). `low == high`: an exact time.
public struct DurationObservation: Sendable, Hashable, CustomStringConvertible {
    public var low: Double
    public var high: Double?

    public init(low: Double, high: Double?) {
        self.low = max(0, low)
        self.high = high.map { max($0, max(0, low)) }
    }

    /// An end known to the second.
    public static func exact(_ seconds: Double) -> DurationObservation {
        DurationObservation(low: seconds, high: seconds)
    }

    public var description: String {
        guard let high else { return "(\(low), ∞)" }
        return low == high ? "\(low)" : "(\(low), \(high)]"
    }
}

/// What the daemon knows about how long operations of one kind take, from acceptance to Kinsta's end. Pure and
/// immutable; the engine rebuilds it from the store when a job of the kind ends.
///
/// Each observation is read for what it is (``DurationObservation``): the end lies somewhere between the last look
/// that found the operation running and the first that found it finished, or after the last look for one still
/// running when it was given up. The distribution is the one that best explains those intervals (the Turnbull
/// estimate, found by expectation–maximisation on a log grid of 1 % cells): an interval's weight is shared among
/// its cells in proportion to how likely each is under the current estimate, until that stops changing. Where the
/// intervals cannot tell (inside an interval no look ever split), the shape comes from the starting estimate: the
/// prior and the broad tail below. An estimate that took each end at the poll that saw it could never learn that
/// operations end before the first poll; this one places them inside (0, first poll] and, once polls come earlier,
/// where they really are.
///
/// Newer observations weigh more (`halfLife`: an observation counts half once that many newer ones of the kind
/// came), so a Kinsta that got faster or slower is followed within a few dozen operations.
///
/// The estimate is then kernel-smoothed on a log scale (each cell spreads as a narrow log-normal of `bandwidth`),
/// so a handful of observations already gives a usable, smooth density, and the model never claims an operation
/// cannot end at a time nobody has seen yet.
///
/// A small share (`tailWeight`) always belongs to a broad log-normal around the prior's middle (σ 0.8): the model
/// never rules out an end far from what was seen, and past the observed durations the hazard falls again, so the
/// schedule backs off in the tail instead of polling a long-overdue operation at its densest.
///
/// Before there is history, the kind's prior (``JobKindSpec/typicalDuration``) stands in as `priorWeight` evenly
/// spread pseudo-observations; each real observation (by its weight) takes one of their places, so the first
/// `priorWeight` successes move the model smoothly from the prior to what Kinsta really does.
///
/// Besides the distribution, the model keeps the observations themselves for ``earlyEndBound(alive:by:)``: how
/// rare, by what was seen and not by the prior, ends before a given time are.
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
    /// The observations with their weights (newest weigh 1), for the evidence bound.
    private let evidence: [Weighted]
    private struct Weighted: Sendable, Hashable {
        var low: Double
        var high: Double
        var weight: Double
    }
    private static let tailSpread = 0.8
    private static let binWidth = 0.01
    private static let gridStep = 0.005
    /// Grid points per 1 % cell.
    private static let cellStride = 2
    /// The grid spans about 0.1 s to 10⁷ s (four months): past either end the CDF is taken as 0 or 1. It starts on a
    /// whole bin, so every binned observation sits exactly on a grid point.
    private static let gridLow = -2.31
    private static let gridCount = Int(((log(1e7) - gridLow) / gridStep).rounded(.up)) + 1
    private static let cellCount = (gridCount - 1) / cellStride + 1
    /// Expectation–maximisation stops when no cell's share moves by more than this, or after `emRounds`.
    private static let emTolerance = 1e-7
    private static let emRounds = 300

    /// - Parameters:
    ///   - prior: seconds within which operations of the kind typically end (the prior, before any history).
    ///   - durations: ends known to the second, oldest first (non-positive values are ignored).
    ///   - priorWeight: how many observations the prior is worth.
    ///   - bandwidth: kernel width on the log scale (0.08 ≈ ±8 %).
    ///   - tailWeight: share of the broad tail component (0–0.5).
    ///   - halfLife: newer observations after which one counts half (`.infinity`: all count the same).
    public init(
        prior: ClosedRange<Double>,
        durations: [Double] = [],
        priorWeight: Int = 20,
        bandwidth: Double = 0.08,
        tailWeight: Double = 0.02,
        halfLife: Double = .infinity
    ) {
        self.init(
            prior: prior,
            observations: durations.filter { $0 > 0 && $0.isFinite }.map(DurationObservation.exact),
            priorWeight: priorWeight,
            bandwidth: bandwidth,
            tailWeight: tailWeight,
            halfLife: halfLife
        )
    }

    /// - Parameters:
    ///   - prior: seconds within which operations of the kind typically end (the prior, before any history).
    ///   - observations: what the polls saw, oldest first.
    ///   - priorWeight: how many observations the prior is worth.
    ///   - bandwidth: kernel width on the log scale (0.08 ≈ ±8 %).
    ///   - tailWeight: share of the broad tail component (0–0.5).
    ///   - halfLife: newer observations after which one counts half (`.infinity`: all count the same).
    public init(
        prior: ClosedRange<Double>,
        observations: [DurationObservation],
        priorWeight: Int = 20,
        bandwidth: Double = 0.08,
        tailWeight: Double = 0.02,
        halfLife: Double = 40
    ) {
        let observed = observations.filter { $0.low.isFinite && ($0.high.map { $0 > 0 && $0.isFinite } ?? true) }
        let count = Self.gridCount
        let cells = Self.cellCount
        func cell(_ seconds: Double) -> Int {
            guard seconds > 0 else { return 0 }
            let bin = (log(seconds) / Self.binWidth).rounded()
            return min(max(Int((bin - Self.gridLow / Self.binWidth).rounded()), 0), cells - 1)
        }
        // Weights: the newest counts 1, each older one a little less.
        let decay = halfLife.isFinite && halfLife > 0 ? pow(0.5, 1 / halfLife) : 1
        var weights = [Double](repeating: 1, count: observed.count)
        for index in stride(from: observed.count - 2, through: 0, by: -1) {
            weights[index] = weights[index + 1] * decay
        }
        let observedWeight = weights.reduce(0, +)
        // Each observation's cells: from the one after its last running look to the one of the look that saw the
        // end; an exact time (or an interval inside one cell) is its own cell; a right-censored one runs to the end.
        let spans: [(first: Int, last: Int)] = observed.map { observation in
            guard let high = observation.high else {
                return (min(cell(observation.low) + 1, cells - 1), cells - 1)
            }
            let last = cell(high)
            if observation.low == high { return (last, last) }
            let first = observation.low > 0 ? cell(observation.low) + 1 : 0
            return (min(first, last), last)
        }
        // The prior's pseudo-observations: fixed mass, fading as real observations come.
        var fixed = [Double](repeating: 0, count: cells)
        let priorCount = max(priorWeight, 1)
        let priorShare = max(Double(priorWeight) - observedWeight, 0) / Double(priorCount)
        if priorShare > 0 {
            let low = max(prior.lowerBound, 0.1)
            let high = max(prior.upperBound, low)
            for index in 0..<priorCount {
                // Evenly spread over the range (linear seconds: the prior says "anywhere in 1–5 min").
                fixed[cell(low + (high - low) * (Double(index) + 0.5) / Double(priorCount))] += priorShare
            }
        }
        let fixedWeight = fixed.reduce(0, +)
        let tailCentre = log((max(prior.lowerBound, 0.1) * max(prior.upperBound, prior.lowerBound, 0.1)).squareRoot())
        let mass = Self.turnbull(
            spans: spans,
            weights: weights,
            fixed: fixed,
            fixedWeight: fixedWeight,
            start: { index in
                // Where no interval can tell: the prior's shape, and the broad tail around its middle.
                let z = (Self.gridLow + Double(index) * Self.binWidth - tailCentre) / Self.tailSpread
                return fixed[index] + exp(-0.5 * z * z) * Self.binWidth
            }
        )
        let totalWeight = mass.reduce(0, +)
        let bandwidth = max(bandwidth, 0.001)
        let tailWeight = min(max(tailWeight, 0), 0.5)
        // Each cell spreads as a Gaussian of `bandwidth` on the log scale, cut at ±8 bandwidths (beyond which its
        // CDF is 0 or 1 to double precision, near enough): a convolution with a precomputed kernel.
        let step = Self.gridStep
        let reach = Int((8 * bandwidth / step).rounded(.up))
        let kernelCDF = (-reach...reach).map { 0.5 * (1 + erf(Double($0) * step / (bandwidth * 2.0.squareRoot()))) }
        let kernelDensity = (-reach...reach).map { offset -> Double in
            let z = Double(offset) * step / bandwidth
            return exp(-0.5 * z * z) / (bandwidth * (2 * Double.pi).squareRoot())
        }
        var cdf = [Double](repeating: 0, count: count)
        var density = [Double](repeating: 0, count: count)
        var passed = [Double](repeating: 0, count: count + 1)  // mass whose kernel lies wholly below each index
        for index in mass.indices where mass[index] > 0 {
            let centre = index * Self.cellStride
            let weight = totalWeight > 0 ? mass[index] / totalWeight : 0
            for offset in -reach...reach {
                let point = centre + offset
                guard point >= 0, point < count else { continue }
                cdf[point] += weight * kernelCDF[offset + reach]
                density[point] += weight * kernelDensity[offset + reach]
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
        self.evidence = zip(observed, weights).map { observation, weight in
            Weighted(low: observation.low, high: observation.high ?? .infinity, weight: weight)
        }
    }

    /// The Turnbull estimate on the cells: each observation's weight shared among the cells of its span in
    /// proportion to the current estimate, plus the fixed (prior) mass, repeated until the shares settle. Exact
    /// observations and the prior need one round; overlapping intervals a few dozen.
    private static func turnbull(
        spans: [(first: Int, last: Int)],
        weights: [Double],
        fixed: [Double],
        fixedWeight: Double,
        start: (Int) -> Double
    ) -> [Double] {
        let cells = fixed.count
        var estimate = (0..<cells).map(start)
        // The starting shape must reach every span, or a span it misses would have no cell to go to.
        for (first, last) in spans {
            for index in first...last where estimate[index] <= 0 { estimate[index] = 1e-300 }
        }
        let total = estimate.reduce(0, +)
        estimate = estimate.map { $0 / total }
        let observedWeight = weights.reduce(0, +)
        guard observedWeight > 0 else { return fixed.reduce(0, +) > 0 ? fixed : estimate }
        let everything = observedWeight + fixedWeight
        var prefix = [Double](repeating: 0, count: cells + 1)
        var share = [Double](repeating: 0, count: cells + 1)
        for _ in 0..<emRounds {
            for index in 0..<cells { prefix[index + 1] = prefix[index] + estimate[index] }
            for index in share.indices { share[index] = 0 }
            for (span, weight) in zip(spans, weights) {
                let within = prefix[span.last + 1] - prefix[span.first]
                guard within > 0 else { continue }
                share[span.first] += weight / within
                share[span.last + 1] -= weight / within
            }
            var running = 0.0
            var moved = 0.0
            for index in 0..<cells {
                running += share[index]
                let next = (fixed[index] + estimate[index] * running) / everything
                moved = max(moved, abs(next - estimate[index]))
                estimate[index] = next
            }
            if moved < emTolerance { break }
        }
        return estimate
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

    /// An upper bound, from the observations alone (not the prior), on the share of operations still running after
    /// `alive` seconds that end by `by` seconds: `(k + 1) / (k + m + 1)`, among the operations that may have been
    /// running at `alive` (their last look before the end came later): `m` the weight of those seen still running
    /// at `by` or later, `k` of all the others, whose end may have come by `by` (an end that no look placed on
    /// either side of `by` counts as early: the bound must not rest on what nobody saw). With nothing seen it is 1:
    /// a schedule that wants evidence before it waits gets none from the prior.
    public func earlyEndBound(alive: Double, by: Double) -> Double {
        var ended = 0.0
        var running = 0.0
        for observation in evidence where observation.high > alive {
            if observation.low >= by {
                running += observation.weight
            } else {
                ended += observation.weight
            }
        }
        return (ended + 1) / (ended + running + 1)
    }
}

/// A kind's usual operation time (``DurationModel`` quantiles), for people: `wait`'s "usually 1m–5m".
public struct UsualDuration: Sendable, Hashable {
    /// The 10th and 90th percentiles, in seconds from Kinsta's acceptance.
    public var low: Double
    public var high: Double
    /// The operations the model has seen (0: the prior alone).
    public var observations: Int

    public init(low: Double, high: Double, observations: Int) {
        self.low = low
        self.high = high
        self.observations = observations
    }
}
