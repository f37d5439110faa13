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
    /// Log-seconds of the points, with their weights (they sum to `totalWeight`).
    private let points: [Double]
    private let weights: [Double]
    private let totalWeight: Double
    /// Spread of each point on the log scale.
    public let bandwidth: Double
    /// How many real observations the model holds.
    public let observations: Int
    /// Share of the broad tail component, and its centre (log-seconds) and spread.
    private let tailWeight: Double
    private let tailCentre: Double
    private static let tailSpread = 0.8
    private static let binWidth = 0.01

    /// - Parameters:
    ///   - prior: seconds within which operations of the kind typically end (the prior, before any history).
    ///   - durations: observed durations in seconds, any order (non-positive values are ignored).
    ///   - priorWeight: how many observations the prior is worth.
    ///   - bandwidth: kernel width on the log scale (0.08 ≈ ±8 %).
    ///   - tailWeight: share of the broad tail component (0–0.5).
    public init(
        prior: ClosedRange<Double>, durations: [Double] = [], priorWeight: Int = 20, bandwidth: Double = 0.08,
        tailWeight: Double = 0.02
    ) {
        let observed = durations.filter { $0 > 0 && $0.isFinite }
        // Observations are binned on the log scale (1 % wide, far below the bandwidth): the model costs the same
        // whether 30 or 500 durations are kept.
        var bins: [Int: Double] = [:]
        for seconds in observed { bins[Int((log(seconds) / Self.binWidth).rounded()), default: 0] += 1 }
        var points = bins.keys.sorted().map { Double($0) * Self.binWidth }
        var weights = bins.keys.sorted().map { bins[$0]! }
        let priorCount = max(priorWeight, 1)
        let priorShare = Double(max(priorWeight - observed.count, 0)) / Double(priorCount)
        if priorShare > 0 {
            let low = max(prior.lowerBound, 0.1), high = max(prior.upperBound, low)
            for index in 0..<priorCount {
                // Evenly spread over the range (linear seconds: the prior says "anywhere in 1–5 min").
                let seconds = low + (high - low) * (Double(index) + 0.5) / Double(priorCount)
                points.append(log(seconds))
                weights.append(priorShare)
            }
        }
        self.points = points
        self.weights = weights
        self.totalWeight = weights.reduce(0, +)
        self.bandwidth = max(bandwidth, 0.001)
        self.observations = observed.count
        self.tailWeight = min(max(tailWeight, 0), 0.5)
        self.tailCentre = log((max(prior.lowerBound, 0.1) * max(prior.upperBound, prior.lowerBound, 0.1)).squareRoot())
    }

    /// P(duration ≤ `seconds`).
    public func cdf(_ seconds: Double) -> Double {
        guard seconds > 0, totalWeight > 0 else { return 0 }
        let x = log(seconds)
        var sum = 0.0
        for index in points.indices {
            sum += weights[index] * 0.5 * (1 + erf((x - points[index]) / (bandwidth * 2.0.squareRoot())))
        }
        let tail = 0.5 * (1 + erf((x - tailCentre) / (Self.tailSpread * 2.0.squareRoot())))
        return min(1, max(0, (1 - tailWeight) * sum / totalWeight + tailWeight * tail))
    }

    /// P(duration > `seconds`).
    public func survival(_ seconds: Double) -> Double { 1 - cdf(seconds) }

    /// Probability density at `seconds`, per second.
    public func density(_ seconds: Double) -> Double {
        guard seconds > 0, totalWeight > 0 else { return 0 }
        let x = log(seconds)
        var sum = 0.0
        for index in points.indices {
            let z = (x - points[index]) / bandwidth
            sum += weights[index] * exp(-0.5 * z * z)
        }
        let rootTwoPi = (2 * Double.pi).squareRoot()
        let kernels = sum / (totalWeight * bandwidth * rootTwoPi * seconds)
        let z = (x - tailCentre) / Self.tailSpread
        let tail = exp(-0.5 * z * z) / (Self.tailSpread * rootTwoPi * seconds)
        return (1 - tailWeight) * kernels + tailWeight * tail
    }

    /// The duration below which a fraction `p` of operations end (bisection on the CDF, to 0.01 s).
    public func quantile(_ p: Double) -> Double {
        let target = min(max(p, 0), 1)
        var low = 0.0, high = 1.0
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
