import Foundation
import OpsCore

/// What a poll schedule could do if it knew, before the first operation, how long each kind takes: the frontier that
/// P1C's targets are set against. For each kind, a dynamic program over a 0.5 s grid finds the fixed schedule (poll
/// times after acceptance) that minimises requests + μ·penalty(lag), given the distribution the simulator draws that
/// kind's operations from (a large sample of its own, ``KinstaSimulator/durationSample(of:count:seed:)``); it is then
/// scored on the run's operations. It knows the distribution, not the answers. Two penalties:
///
/// - `meanLag`: μ·lag + ν·[lag > 20 s], the objective ours approximates (docs/architecture.md, "Polling": the square-root rule);
/// - `median`: μ·[lag > L] + ν·[lag > 20 s], a schedule aimed at the target itself: dense polls where ends are
///   likeliest until half the operations are within L, 20 s apart elsewhere.
///
/// The same μ holds for every kind (one multiplier for a constraint over the whole mix), found by bisection for the
/// least requests whose lag p50 is at most L, with lag p99 at most 20 s.
enum ClairvoyantSchedule {
    enum Objective { case meanLag, median }

    struct Result {
        var requests: Double
        var lagP50: Double
        var lagP99: Double
    }

    static let cell = 0.5
    static let maxGapCells = 300

    /// The schedule under `objective` with the fewest requests on `operations` (kind, seconds from acceptance to
    /// the end) whose lag p50 is at most `target` and p99 at most 20 s, each kind's schedule built on its sample in
    /// `distributions` (`nil` when no multiplier meets both); and of those at p50 ≤ `target`, the one with the
    /// least p99.
    static func best(
        _ operations: [(kind: String, duration: Double)],
        distributions: [String: [Double]],
        objective: Objective,
        target: Double
    ) -> (met: Result?, closest: Result?) {
        let kinds = Dictionary(grouping: operations.indices, by: { operations[$0].kind })
        let durations = kinds.mapValues { $0.map { operations[$0].duration } }
        func evaluate(_ mu: Double, _ nu: Double) -> Result {
            var requests: [Double] = []
            var lags: [Double] = []
            for (kind, ds) in durations {
                let sample = distributions[kind] ?? ds
                var polls = schedule(sample, objective: objective, mu: mu, nu: nu, target: target)
                // An operation longer than the whole sample: polled 20 s apart past its end.
                while let last = polls.last, last < (ds.max() ?? 0) { polls.append(last + 20) }
                for d in ds {
                    // The first poll at or after the end sees it; every poll up to it is a request.
                    var low = 0
                    var high = polls.count - 1
                    while low < high {
                        let mid = (low + high) / 2
                        if polls[mid] >= d { high = mid } else { low = mid + 1 }
                    }
                    requests.append(Double(low + 1))
                    lags.append(polls[low] - d)
                }
            }
            return Result(
                requests: Stats.mean(requests),
                lagP50: Stats.percentile(lags, 50),
                lagP99: Stats.percentile(lags, 99)
            )
        }
        var best: Result?
        var closest: Result?
        let nus: [Double] = [0, 5, 20, 50, 200]
        for nu in nus {
            // Bisection on μ for the least requests at lag p50 ≤ target (p50 falls as μ grows).
            var low = 0.0
            var high = objective == .median ? 400.0 : 40.0
            var found: Result?
            for _ in 0..<16 {
                let mu = (low + high) / 2
                let result = evaluate(mu, nu)
                if result.lagP50 <= target {
                    found = result
                    high = mu
                } else {
                    low = mu
                }
            }
            if let found, found.lagP99 <= 20, found.requests < best?.requests ?? .infinity { best = found }
            if let found, found.lagP99 < closest?.lagP99 ?? .infinity { closest = found }
        }
        return (best, closest)
    }

    /// Poll times (seconds after acceptance) for one kind's durations, by backward induction over the grid: the
    /// cost of polling next at `t + g` after a poll at `t` is the chance the operation still runs at `t` (that poll is
    /// a request) plus the penalty of the ends in between.
    static func schedule(
        _ durations: [Double],
        objective: Objective,
        mu: Double,
        nu: Double,
        target: Double
    ) -> [Double] {
        let horizon = Int(((durations.max() ?? 0) / cell).rounded(.up)) + 2
        var mass = [Double](repeating: 0, count: horizon + maxGapCells + 1)
        for d in durations { mass[min(Int(d / cell), horizon - 1)] += 1 / Double(durations.count) }
        // survival[t]: share of ends at or after cell t.
        var survival = [Double](repeating: 0, count: horizon + maxGapCells + 2)
        for t in stride(from: horizon - 1, through: 0, by: -1) { survival[t] = survival[t + 1] + mass[t] }
        var value = [Double](repeating: 0, count: horizon + maxGapCells + 2)
        var next = [Int](repeating: maxGapCells, count: horizon + 1)
        let lateCells = target / cell
        let capCells = 20 / cell
        for t in stride(from: horizon - 1, through: 0, by: -1) where survival[t] > 1e-12 {
            var bestCost = Double.infinity
            var bestGap = 1
            var ends = 0.0  // share ending in cells t ..< t+g
            var weighted = 0.0  // Σ share·(cell + ½) over those cells
            var late = 0.0  // share of them ending more than `target` before t+g
            var lateCount = 0
            var capped = 0.0
            var cappedCount = 0
            for g in 1...maxGapCells {
                let k = t + g - 1
                ends += mass[k]
                weighted += mass[k] * (Double(k) + 0.5)
                while Double(t + cappedCount) + 0.5 < Double(t + g) - capCells, cappedCount < g {
                    capped += mass[t + cappedCount]
                    cappedCount += 1
                }
                let penalty: Double
                switch objective {
                case .meanLag:
                    penalty = mu * (ends * Double(t + g) - weighted) * cell + nu * capped
                case .median:
                    // Cells whose midpoint lies more than the bound before the poll: k + ½ < t + g − bound.
                    while Double(t + lateCount) + 0.5 < Double(t + g) - lateCells, lateCount < g {
                        late += mass[t + lateCount]
                        lateCount += 1
                    }
                    penalty = mu * late + nu * capped
                }
                let cost = survival[t] + penalty + value[t + g]
                if cost < bestCost {
                    bestCost = cost
                    bestGap = g
                }
            }
            value[t] = bestCost
            next[t] = bestGap
        }
        var polls: [Double] = []
        var t = 0
        repeat {
            t += t < horizon ? next[t] : maxGapCells
            polls.append(Double(t) * cell)
        } while Double(t) * cell < (durations.max() ?? 0)
        return polls
    }

    /// Ours' rule (``AdaptivePolling``) given the true distribution instead of what it learns: each kind's model
    /// built from its sample in `distributions` as exact ends, scored on `operations`. What separates the cost of
    /// the rule from the cost of learning from a cold start.
    static func rule(
        _ adaptive: AdaptivePolling,
        _ operations: [(kind: String, duration: Double)],
        distributions: [String: [Double]],
        seed: UInt64
    ) -> Result {
        var models: [String: DurationModel] = [:]
        for (kind, sample) in distributions {
            guard let spec = JobKind(rawValue: kind)?.spec else { continue }
            models[kind] = DurationModel(prior: spec.typicalDuration, durations: sample, halfLife: .infinity)
        }
        var rng = SplitMix64(seed: seed)
        var requests: [Double] = []
        var lags: [Double] = []
        for operation in operations {
            guard let model = models[operation.kind] else { continue }
            var t = 0.0
            var count = 0
            repeat {
                t += adaptive.delay(model: model, elapsed: t, using: &rng)
                count += 1
            } while t < operation.duration && count < 10_000
            requests.append(Double(count))
            lags.append(t - operation.duration)
        }
        return Result(
            requests: Stats.mean(requests),
            lagP50: Stats.percentile(lags, 50),
            lagP99: Stats.percentile(lags, 99)
        )
    }
}
