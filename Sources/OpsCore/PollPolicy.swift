#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// When to ask Kinsta again, and how long to keep asking. Pure: `now` and the random source come from the caller.
///
/// With `adaptive.enabled` (the daemon's configuration turns it on by default) polls follow ``AdaptivePolling``,
/// learned per kind from finished operations. Otherwise, and for `PollPolicy()` as constructed here, the fixed
/// schedule after acceptance, with the defaults (before ±20 % jitter):
///
/// | poll # | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9+ |
/// |---|---|---|---|---|---|---|---|---|---|
/// | delay before it (s) | 3 | 2 | 3 | 4.5 | 6.75 | 10.1 | 15.2 | 20 | 20 |
/// | time since acceptance (s) | 3 | 5 | 8 | 12.5 | 19.3 | 29.4 | 44.6 | 64.6 | +20 each |
///
/// - A 404 before `startupWindow` (60 s) has passed since acceptance means "not visible yet" and costs nothing.
/// - A 404 after it, or a 500, must be seen `confirmations` (3) times in a row, `errorBackoff` apart, and over at least
///   `confirmSpan` (60) seconds, before it counts: Kinsta has answered 500 for a while during jobs that then finished.
///   With the defaults that is six sightings, 2 + 4 + 8 + 16 + 32 s apart (a transient 500 rate of 10 % per poll gives
///   a false failure with odds of one in a million per streak, against one in a thousand for three in a row).
/// - Transient trouble (timeouts, resets, 502/503, bodies that are not Kinsta's JSON) and 429s without `Retry-After`
///   wait on `errorBackoff`: 2, 4, 8, 16, 32, 64, 128, 256, 300, 300 … s (±20 %).
/// - Nothing is scheduled past the job's deadline: the last poll happens at the deadline, and a non-final answer there
///   ends the job `timed_out`.
public struct PollPolicy: Sendable, Hashable {
    /// Seconds after acceptance during which 404 means "the operation is not visible yet". Kinsta documents such a
    /// window for site creation ("the first few seconds") without a number; 60 s covers every observed case.
    public var startupWindow: Double
    /// Seconds from acceptance to the first poll.
    public var firstPollDelay: Double
    /// Spacing of polls while the operation runs.
    public var pollBackoff: Backoff
    /// Spacing of retries after transient trouble, 429s without `Retry-After`, and confirmations.
    public var errorBackoff: Backoff
    /// How many times in a row a 500 or a late 404 must be seen before it is believed.
    public var confirmations: Int
    /// The least time, in seconds, over which those sightings must stretch before they are believed.
    public var confirmSpan: Double
    /// Seconds from the start of an attempt to `timed_out`, per kind.
    public var deadlines: [JobKind: Double]
    /// The learning schedule; when it is off, `firstPollDelay` and `pollBackoff` space the polls.
    public var adaptive: AdaptivePolling
    /// What finished operations taught, per kind. A kind without an entry uses its prior.
    public var durations: [JobKind: DurationModel]
    /// Configured settle graces, per kind (``settleGrace(for:)``).
    public var settleGraces: [JobKind: Double]

    public init(
        startupWindow: Double = 60,
        firstPollDelay: Double = 3,
        pollBackoff: Backoff = Backoff(base: 2, multiplier: 1.5, cap: 20, jitter: 0.2),
        errorBackoff: Backoff = Backoff(base: 2, multiplier: 2, cap: 300, jitter: 0.2),
        confirmations: Int = 3,
        confirmSpan: Double = 60,
        deadlines: [JobKind: Double] = [:],
        adaptive: AdaptivePolling = AdaptivePolling(enabled: false),
        durations: [JobKind: DurationModel] = [:],
        settleGraces: [JobKind: Double] = [:]
    ) {
        self.settleGraces = settleGraces
        self.confirmSpan = max(0, confirmSpan)
        self.adaptive = adaptive
        self.durations = durations
        self.startupWindow = startupWindow
        self.firstPollDelay = firstPollDelay
        self.pollBackoff = pollBackoff
        self.errorBackoff = errorBackoff
        self.confirmations = max(1, confirmations)
        self.deadlines = deadlines
    }

    /// The deadline of an attempt of `kind` started at `start`.
    public func deadline(for kind: JobKind, startingAt start: Date) -> Date {
        start.addingTimeInterval(deadlines[kind] ?? Double(kind.spec.defaultDeadline))
    }

    /// Whether a 404 at `now` still falls in the start-up window of an operation accepted at `acceptedAt`.
    public func isInStartupWindow(acceptedAt: Date, now: Date) -> Bool {
        now.timeIntervalSince(acceptedAt) < startupWindow
    }

    /// Whether `sightings` bad answers in a row, each scheduled on `errorBackoff` after the one before, are enough to be
    /// believed: at least `confirmations` of them, stretching over at least `confirmSpan` seconds. The span is the
    /// least the backoff can have waited between them (every delay at its lowest jitter), so it holds without storing
    /// when the streak began; anything else that came between (a 429, a reset) only adds time.
    public func isConfirmed(sightings: Int) -> Bool {
        guard sightings >= confirmations else { return false }
        return hasWaited(confirmSpan, looks: sightings)
    }

    /// Whether `looks` looks in a row, each scheduled on `errorBackoff` after the one before, stretch over at least
    /// `seconds`: the least the backoff can have waited between them (every delay at its lowest jitter).
    public func hasWaited(_ seconds: Double, looks: Int) -> Bool {
        guard seconds > 0 else { return true }
        var span = 0.0
        for gap in 0..<max(0, looks - 1) {
            span += errorBackoff.nominalDelay(afterAttempt: gap) * (1 - errorBackoff.jitter)
            if span >= seconds { return true }
        }
        return false
    }

    /// How long after an unclear submission a read that finds nothing means Kinsta did nothing (``JobKindSpec/settleGrace``
    /// unless configured).
    public func settleGrace(for kind: JobKind) -> Double {
        settleGraces[kind] ?? kind.spec.settleGrace
    }

    /// Delay before poll number `pollCount + 1`, given `pollCount` polls already made (the fixed schedule).
    public func pollDelay(afterPolls pollCount: Int, using rng: inout some RandomNumberGenerator) -> Double {
        pollCount == 0 ? firstPollDelay : pollBackoff.delay(afterAttempt: pollCount - 1, using: &rng)
    }

    /// Delay before the next poll of `job` (accepted or running) at `now`: the adaptive schedule when it is on and
    /// the acceptance time is known, else the fixed one. The caller clamps it to the deadline.
    public func nextPollDelay(for job: JobSnapshot, now: Date, using rng: inout some RandomNumberGenerator) -> Double {
        guard adaptive.enabled, let acceptedAt = job.acceptedAt else {
            return pollDelay(afterPolls: job.pollCount, using: &rng)
        }
        let elapsed = max(0, now.timeIntervalSince(acceptedAt))
        return adaptive.delay(model: model(for: job.kind), elapsed: elapsed, using: &rng)
    }

    /// The duration model of `kind`: what was learned, or the kind's prior.
    public func model(for kind: JobKind) -> DurationModel {
        durations[kind] ?? model(for: kind, observations: [])
    }

    /// The duration model of `kind` built from `observations` (oldest first) on the kind's prior.
    public func model(for kind: JobKind, observations: [DurationObservation]) -> DurationModel {
        DurationModel(
            prior: kind.spec.typicalDuration,
            observations: observations,
            priorWeight: adaptive.priorWeight,
            halfLife: adaptive.halfLife
        )
    }

    /// How urgent `job`'s pending action is when the request budget is short (higher first).
    ///
    /// Submits and reconciliations come first (`1 + ε`: a submit that waits delays the whole operation, and
    /// Kinsta's clock only starts with it). A poll's urgency is the model's probability that the operation ended
    /// since it was last asked about (`lastAskedAt`) given it was running then: a poll near the likely end outranks
    /// one far from it, and a poll that waits grows more urgent, so none waits for ever.
    public func claimPriority(for job: JobSnapshot, lastAskedAt: Date, now: Date) -> Double {
        guard job.pendingAction == .poll, let acceptedAt = job.acceptedAt else { return 2 }
        let from = max(0, lastAskedAt.timeIntervalSince(acceptedAt))
        let to = max(from, now.timeIntervalSince(acceptedAt))
        return model(for: job.kind).conditionalEnd(from: from, to: to)
    }
}

/// The learning poll schedule (docs/architecture.md, "Polling"; measured by the benchmark, docs/performance.md).
/// Given how long an operation of this kind has run, it asks the kind's ``DurationModel`` how likely the end is, and
/// places polls by the square-root rule: the poll density at time `t` is `√hazard(t) / tradeoff`, so the next poll
/// comes after `d` seconds with
///
///     ∫ₜ^(t+d) √hazard(u) du = tradeoff,   hazard = f / S,   d clamped to [minSpacing, maxSpacing]
///
/// Why the square root: with `f` the density and `S` the survival, a poll every `Δ(t)` costs about `∫ S/Δ` requests
/// and loses about `∫ f·Δ/2` seconds of lag; minimising requests + λ·lag gives `Δ ∝ √(S/f)`. Equal-chance polls
/// (`Δ ∝ S/f`) are sparser near the likely end and lose more lag there for the same requests. The integral (rather
/// than `Δ` read at `t` alone) keeps a poll made just before a narrow peak of likely ends from jumping over it.
///
/// - While even a poll `maxSpacing` away would catch less than `quietQuantile` of the ends, nothing useful can be
///   learned: the next poll waits until that quantile (at most `maxQuietGap`). A 404 in the start-up window is still
///   "not visible yet" (the window rule is the machine's and is unchanged).
/// - `maxSpacing` caps the lag of the operations that end after that first poll, with one exception kept rare by
///   construction: a gap may grow past `maxSpacing` (up to `maxTailSpacing`) while the ends it would leave more than
///   `maxSpacing` late are, by the model, at most `lateShare` of all operations of the kind (0.1 % per gap). That is a
///   risk budget for the p99 lag rather than a hard cap on the max: it lets polls thin out where ends are rare
///   (the far tail, the steep start of the likely range) and keeps the lag of 99 % of operations under `maxSpacing`.
/// - Past the observed durations the hazard falls again (the model's broad tail), so polls back off toward
///   `maxSpacing`, and past it as the tail empties.
/// - Exploration: a gap longer than `maxSpacing` (a quiet wait, or a stretch of the risk budget) rests on what was
///   *seen*, not on the prior. It may reach a time only while ``DurationModel/earlyEndBound(alive:by:)`` says the
///   ends it would leave more than `maxSpacing` late are at most `exploreShare` of the operations still running:
///   with nothing seen yet, polls come `maxSpacing` apart, and they stretch toward the quiet quantile (and in the
///   tail) as operations are seen still running there. A prior that is too late is found by the first few operations instead of never
///   (an end before the first poll would otherwise be learned at that poll's time, and the model could not see
///   it was wrong).
public struct AdaptivePolling: Sendable, Hashable {
    public var enabled: Bool
    /// Shortest gap between two polls, seconds.
    public var minSpacing: Double
    /// Longest gap once the end is plausible: the lag cap, seconds (see `lateShare`).
    public var maxSpacing: Double
    /// Share of all operations of a kind that one gap may leave more than `maxSpacing` late (0 makes `maxSpacing` a
    /// hard cap).
    public var lateShare: Double
    /// Longest gap of all once the end is plausible, seconds.
    public var maxTailSpacing: Double
    /// Scales every gap: larger means fewer requests and more lag.
    public var tradeoff: Double
    /// The first poll waits until this fraction of operations of the kind would have ended.
    public var quietQuantile: Double
    /// Longest wait before the end is plausible, seconds.
    public var maxQuietGap: Double
    /// Spread of each gap, as a fraction each way (herds of jobs accepted together drift apart).
    public var jitter: Double
    /// Observations the kind's prior is worth.
    public var priorWeight: Int
    /// Observed durations kept per kind (older ones are dropped by the store).
    public var history: Int
    /// Newer observations of a kind after which one counts half (``DurationModel``).
    public var halfLife: Double
    /// The largest share of still-running operations that a wait past `maxSpacing` may, by what was seen, leave more
    /// than `maxSpacing` late (1 turns exploration off: the model alone decides).
    public var exploreShare: Double

    public init(
        enabled: Bool = true,
        minSpacing: Double = 3,
        maxSpacing: Double = 20,
        tradeoff: Double = 1.35,
        quietQuantile: Double = 0.02,
        maxQuietGap: Double = 300,
        jitter: Double = 0.1,
        priorWeight: Int = 20,
        history: Int = 500,
        lateShare: Double = 0.001,
        maxTailSpacing: Double = 60,
        halfLife: Double = 40,
        exploreShare: Double = 0.15
    ) {
        self.enabled = enabled
        self.minSpacing = max(0.1, minSpacing)
        self.maxSpacing = max(self.minSpacing, maxSpacing)
        self.lateShare = min(max(lateShare, 0), 0.01)
        self.maxTailSpacing = max(self.maxSpacing, maxTailSpacing)
        self.tradeoff = max(0.01, tradeoff)
        self.quietQuantile = min(max(quietQuantile, 0), 0.5)
        self.maxQuietGap = max(self.maxSpacing, maxQuietGap)
        self.jitter = min(max(jitter, 0), 0.5)
        self.priorWeight = max(1, priorWeight)
        self.history = max(1, history)
        self.halfLife = max(1, halfLife)
        self.exploreShare = min(max(exploreShare, 0), 1)
    }

    /// Seconds from now to the next poll of an operation that has run `elapsed` seconds since acceptance.
    public func delay(model: DurationModel, elapsed: Double, using rng: inout some RandomNumberGenerator) -> Double {
        let t = max(0, elapsed)
        if quietQuantile > 0, model.cdf(t + maxSpacing) < quietQuantile {
            return explored(min(max(model.quantile(quietQuantile) - t, maxSpacing), maxQuietGap), model, t)
        }
        // Integrate √hazard in half-second steps (midpoint rule) until it reaches `tradeoff`.
        let step = 0.5
        let endedBefore = model.cdf(t)
        var integral = 0.0
        var spacing = 0.0
        var backed: Double?  // the longest gap the observations back, once the cap is reached
        while true {
            let middle = t + spacing + step / 2
            let alive = model.survival(middle)
            let hazard = alive > 1e-12 ? model.density(middle) / alive : 0
            integral += hazard.squareRoot() * step
            spacing += step
            if integral >= tradeoff, spacing >= minSpacing { break }
            // Past the lag cap only while the ends left later than it stay within the risk budget.
            if spacing >= maxSpacing {
                if backed == nil { backed = explored(maxTailSpacing, model, t) }
                if spacing >= min(maxTailSpacing, backed ?? maxTailSpacing)
                    || model.cdf(t + spacing + step - maxSpacing) - endedBefore > lateShare
                {
                    break
                }
            }
        }
        // Jitter never takes a gap past what the risk budget allowed.
        let cap = max(spacing, maxSpacing)
        if jitter > 0 {
            spacing *= Double.random(in: (1 - jitter)...(1 + jitter), using: &rng)
        }
        return min(max(spacing, minSpacing), cap)
    }

    /// The part of a quiet wait of `gap` seconds (from `elapsed`) that the observations back: `maxSpacing`, and
    /// further only while the operations seen still running after `elapsed` show that ends more than `maxSpacing`
    /// before the poll are rare (`exploreShare`). The bound only grows with the wait, so the longest allowed is
    /// found by bisection, to 0.5 s.
    func explored(_ gap: Double, _ model: DurationModel, _ elapsed: Double) -> Double {
        guard gap > maxSpacing, exploreShare < 1 else { return gap }
        func allowed(_ wait: Double) -> Bool {
            model.earlyEndBound(alive: elapsed, by: elapsed + wait - maxSpacing) <= exploreShare
        }
        if allowed(gap) { return gap }
        var low = maxSpacing
        var high = gap
        while high - low > 0.5 {
            let middle = (low + high) / 2
            if allowed(middle) { low = middle } else { high = middle }
        }
        return low
    }
}
