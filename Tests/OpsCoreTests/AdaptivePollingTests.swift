import Foundation
import OpsCore
import Testing

/// The learning poll schedule: the duration model (priors, learning), and the schedule drawn from it (sparse while
/// the end is unlikely, dense around it, lag cap, deadline, start-up window).
@Suite struct AdaptivePollingTests {
    /// Jitter off, so every schedule is exact.
    let adaptive = AdaptivePolling(jitter: 0)
    /// The same, exploration off: the model alone decides, prior or not (the quiet rule, the square-root rule).
    let modelOnly = AdaptivePolling(jitter: 0, exploreShare: 1)

    /// Seconds since acceptance of each poll the schedule makes, up to `limit`.
    func schedule(_ model: DurationModel, until limit: Double = 1200, using policy: AdaptivePolling? = nil) -> [Double]
    {
        let adaptive = policy ?? adaptive
        var rng = SplitMix64(seed: 1)
        var times: [Double] = []
        var t = 0.0
        while true {
            t += adaptive.delay(model: model, elapsed: t, using: &rng)
            guard t <= limit else { return times }
            times.append(t)
        }
    }

    /// Polls a schedule needs to see an operation of `duration` end, and the lag of the one that does.
    func cost(_ times: [Double], duration: Double) -> (polls: Int, lag: Double) {
        guard let index = times.firstIndex(where: { $0 >= duration }) else { return (times.count, .infinity) }
        return (index + 1, times[index] - duration)
    }

    // MARK: - Model

    @Test(arguments: JobKind.allCases)
    func priorCoversTheKindsTypicalRange(kind: JobKind) {
        let range = kind.spec.typicalDuration
        let model = DurationModel(prior: range)
        #expect(model.observations == 0)
        // Almost nothing ends before the range, almost everything within it, and the median is inside
        #expect(model.cdf(range.lowerBound * 0.85) < 0.01)
        #expect(model.cdf(range.upperBound * 1.15) > 0.99)
        let median = model.quantile(0.5)
        #expect(median > range.lowerBound && median < range.upperBound)
    }

    @Test(arguments: [
        // (kind, prior range in s): the catalog's priors (docs/kinsta-api.md, "Typical durations")
        (JobKind.siteCreate, 60.0, 300.0), (.siteCreatePlain, 30, 120), (.siteClone, 120, 480),
        (.siteDelete, 20, 180), (.backupRestore, 20, 180),
    ])
    func catalogPriors(kind: JobKind, low: Double, high: Double) {
        #expect(kind.spec.typicalDuration == low...high)
    }

    @Test func observationsReplaceThePriorStepByStep() {
        let prior = 60.0...300.0
        let few = DurationModel(prior: prior, durations: Array(repeating: 100, count: 5))
        let many = DurationModel(prior: prior, durations: Array(repeating: 100, count: 40))
        // Five observations at 100 s pull the median from the prior's middle (~180 s) toward 100 s…
        let priorMedian = DurationModel(prior: prior).quantile(0.5)
        #expect(few.quantile(0.5) < priorMedian)
        #expect(few.quantile(0.5) > 100)
        // …and once they outnumber the prior's weight, the prior is gone
        #expect(abs(many.quantile(0.5) - 100) < 1)
        #expect(many.cdf(150) > 0.98)
        #expect(many.observations == 40)
    }

    @Test(arguments: [(30.0, 60.0), (60, 90), (100, 160), (10, 400)])
    func conditionalEndIsAProbability(from: Double, to: Double) {
        let model = DurationModel(prior: 60...300, durations: [80, 90, 100, 120, 150])
        let p = model.conditionalEnd(from: from, to: to)
        #expect(p >= 0 && p <= 1)
        #expect(model.conditionalEnd(from: from, to: from) == 0)
        // Almost everything ends by 400 s, and long past everything seen an end in the next second is unlikely
        // (the tail component keeps the hazard low there, so the schedule backs off)
        #expect(model.conditionalEnd(from: 0, to: 400) > 0.99)
        #expect(model.conditionalEnd(from: 10_000, to: 10_001) < 0.01)
    }

    // MARK: - Schedule

    @Test(arguments: JobKind.allCases)
    func spacingStaysWithinItsBoundsOnceTheEndIsPlausible(kind: JobKind) {
        let model = DurationModel(prior: kind.spec.typicalDuration)
        let adaptive = modelOnly
        var rng = SplitMix64(seed: 3)
        for t in stride(from: 0.0, through: 3000, by: 1.5) {
            let delay = adaptive.delay(model: model, elapsed: t, using: &rng)
            if model.cdf(t + adaptive.maxSpacing) >= adaptive.quietQuantile {
                // The minimum spacing holds wherever an end is plausible, and so does the lag cap, except where
                // the model puts at most `lateShare` of all ends in the stretch the longer gap leaves late
                #expect(delay >= adaptive.minSpacing && delay <= adaptive.maxTailSpacing)
                if delay > adaptive.maxSpacing {
                    #expect(model.cdf(t + delay - adaptive.maxSpacing) - model.cdf(t) <= adaptive.lateShare + 1e-12)
                }
            } else {
                // Before that, one wait up to the quiet quantile, never longer than the quiet cap
                #expect(delay <= adaptive.maxQuietGap)
                #expect(t + delay >= model.quantile(adaptive.quietQuantile) - 0.02)
            }
        }
    }

    @Test func firstPollWaitsUntilAnEndIsPlausible() {
        // By the model alone, a clone (2–8 min) is not asked about in its first seconds; a delete (20 s–3 min) much
        // sooner
        let clone = schedule(DurationModel(prior: JobKind.siteClone.spec.typicalDuration), using: modelOnly)
        let delete = schedule(DurationModel(prior: JobKind.siteDelete.spec.typicalDuration), using: modelOnly)
        #expect(clone[0] >= 110 && clone[0] <= 125)
        #expect(delete[0] >= 18 && delete[0] <= 25)
    }

    // MARK: - Exploration

    @Test(arguments: JobKind.allCases)
    func withNothingSeenNoGapPassesTheLagCap(kind: JobKind) {
        // A prior is a guess: before anything was seen, no gap is longer than the lag cap (neither the quiet wait
        // before the likely range nor a stretch of the risk budget), so an operation far shorter, or longer, than
        // its prior is still seen within 20 s of its end
        let model = DurationModel(prior: kind.spec.typicalDuration)
        let times = schedule(model, until: 3000)
        for (earlier, later) in zip([0] + times, times) {
            #expect(later - earlier <= adaptive.maxSpacing + 1e-9)
        }
        // And by the model alone the same prior waits longer somewhere
        let alone = schedule(model, until: 3000, using: modelOnly)
        #expect(zip([0] + alone, alone).contains { $1 - $0 > modelOnly.maxSpacing })
    }

    @Test func firstPollsStretchOnlyAsOperationsAreSeenStillRunning() {
        // Given site creations (prior 1–5 min) whose polls saw them still running at 130 s or later
        let prior = JobKind.siteCreate.spec.typicalDuration
        func firstPoll(_ observations: [DurationObservation]) -> Double {
            var rng = SplitMix64(seed: 1)
            return adaptive.delay(
                model: DurationModel(prior: prior, observations: observations),
                elapsed: 0,
                using: &rng
            )
        }
        let running = DurationObservation(low: 130, high: 135)
        // Then with a few seen, the first poll still comes at the cap; with 30, where the model expects the first
        // ends (as late as by the model alone)
        #expect(firstPoll(Array(repeating: running, count: 5)) <= adaptive.maxSpacing)
        let seen = Array(repeating: running, count: 30)
        var rng = SplitMix64(seed: 1)
        let modelAlone = modelOnly.delay(
            model: DurationModel(prior: prior, observations: seen),
            elapsed: 0,
            using: &rng
        )
        #expect(modelAlone > 60)
        #expect(abs(firstPoll(seen) - modelAlone) < 0.001)
        // And a few ends seen early among them pull it back: the next operations are looked at within the cap again
        // (one alone does not: the bound allows 15 %, and the model itself moves its first poll earlier for it)
        let early = Array(repeating: DurationObservation(low: 0, high: 20), count: 4)
        #expect(firstPoll(seen + early) <= adaptive.maxSpacing + 0.5)
        #expect(firstPoll(seen + early.prefix(1)) > adaptive.maxSpacing + 0.5)
    }

    @Test func theEvidenceBoundCountsOnlyWhatWasSeen() {
        let prior = 60.0...300.0
        // Nothing seen: no evidence at all, whatever the prior says
        #expect(DurationModel(prior: prior).earlyEndBound(alive: 0, by: 10) == 1)
        // 30 seen running past 60 s: ends before 40 s are rare, 1 in 31 at most
        let running = Array(repeating: DurationObservation(low: 60, high: 70), count: 30)
        let noDecay = Double.infinity
        let model = DurationModel(prior: prior, observations: running, halfLife: noDecay)
        #expect(abs(model.earlyEndBound(alive: 0, by: 40) - 1 / 31) < 1e-9)
        // One that ended by 20 s counts against it, and so does one whose end no look placed on either side of 40 s
        // (it may have come early)
        let mixed = DurationModel(
            prior: prior,
            observations: running + [DurationObservation(low: 0, high: 20), DurationObservation(low: 0, high: 65)],
            halfLife: noDecay
        )
        #expect(abs(mixed.earlyEndBound(alive: 0, by: 40) - 3 / 33) < 1e-9)
        // Only operations that may have been running at `alive` are counted: all had ended by 80 s
        #expect(mixed.earlyEndBound(alive: 80, by: 100) == 1)
    }

    @Test func densestAroundTheLikelyEndAndSparseInTheTail() {
        let model = DurationModel(prior: 60...300, durations: (0..<200).map { 100 + Double($0 % 21) - 10 })
        // By the model alone: with exploration, a gap past the cap in the tail also needs operations seen running
        // there (none was, here)
        let adaptive = modelOnly
        let times = schedule(model, using: modelOnly)
        let gaps = zip(times.dropFirst(), times).map { ($1, $0 - $1) }
        let nearEnd = gaps.filter { $0.0 >= 90 && $0.0 <= 110 }.map(\.1)
        let tail = gaps.filter { $0.0 >= 200 }.map(\.1)
        #expect(!nearEnd.isEmpty && !tail.isEmpty)
        #expect(nearEnd.max()! < tail.min()!)
        // Past everything seen, polls back off again, to the lag cap and, as the tail empties, past it
        #expect(tail.min()! >= 3 * nearEnd.min()!)
        #expect(tail.allSatisfy { $0 <= adaptive.maxTailSpacing + 1e-9 })
        #expect(tail.max()! > adaptive.maxSpacing)
    }

    /// The p99 lag by the model's own account: the ends a schedule catches more than `maxSpacing` late (before its
    /// first poll, or in a gap the risk budget stretched) are about 1 % of all operations, for every kind's prior.
    @Test(arguments: JobKind.allCases)
    func theModelExpectsFewerThanOneInAHundredLateEnds(kind: JobKind) {
        let model = DurationModel(prior: kind.spec.typicalDuration)
        let adaptive = modelOnly
        let times = schedule(model, until: 20_000, using: modelOnly)
        var late = max(0, model.cdf(times[0] - adaptive.maxSpacing))
        for (start, end) in zip(times, times.dropFirst()) where end - start > adaptive.maxSpacing {
            late += model.cdf(end - adaptive.maxSpacing) - model.cdf(start)
        }
        #expect(late < 0.012, "\(late)")
        // The budget is used: the schedule does thin out past the cap somewhere
        #expect(zip(times, times.dropFirst()).contains { $1 - $0 > adaptive.maxSpacing })
    }

    @Test func learningShiftsPollsTowardTheObservedEnd() {
        // Given site creations that really take 95–105 s
        let prior = DurationModel(prior: JobKind.siteCreate.spec.typicalDuration)
        let learned = DurationModel(
            prior: JobKind.siteCreate.spec.typicalDuration,
            durations: (0..<100).map { 95 + Double($0 % 11) }
        )
        let before = schedule(prior)
        let after = schedule(learned)
        // Then more polls fall in 90–110 s than under the prior, and fewer are spent before 90 s
        #expect(after.filter { $0 >= 90 && $0 <= 110 }.count > before.filter { $0 >= 90 && $0 <= 110 }.count)
        #expect(after.filter { $0 < 90 }.count <= before.filter { $0 < 90 }.count)
        // And such operations are caught almost 3× sooner (6.6 → 2.4 s on average) for about 0.6 poll more
        // (3.1 → 3.7): the square-root rule spends the polls where the ends are
        let durations = stride(from: 95.0, through: 105, by: 0.25).map { $0 }
        func average(_ times: [Double]) -> (polls: Double, lag: Double) {
            let costs = durations.map { cost(times, duration: $0) }
            return (
                Double(costs.map(\.polls).reduce(0, +)) / Double(costs.count),
                costs.map(\.lag).reduce(0, +) / Double(costs.count)
            )
        }
        let costBefore = average(before)
        let costAfter = average(after)
        #expect(costAfter.polls <= costBefore.polls + 0.75)
        #expect(costAfter.lag < costBefore.lag / 2)
    }

    @Test(arguments: [30.0, 100, 250, 300, 400, 900])
    func lagStaysUnderTheCapWhereEndsAreLikely(duration: Double) {
        // A site creation's prior says 1–5 min: within it (and before it) the lag cap holds; far past it the gaps
        // may stretch, never past the longest gap
        let times = schedule(DurationModel(prior: JobKind.siteCreate.spec.typicalDuration), until: 2000)
        let (_, lag) = cost(times, duration: duration)
        let cap = duration < times[0] ? times[0] : duration <= 300 ? adaptive.maxSpacing : adaptive.maxTailSpacing
        #expect(lag <= cap)
    }

    // MARK: - In the machine

    func accepted(_ kind: JobKind, at accepted: Date, deadline: Date) -> JobSnapshot {
        JobSnapshot(
            kind: kind,
            state: .accepted,
            operationID: "op-1",
            acceptedAt: accepted,
            deadline: deadline,
            pendingAction: .poll,
            nextActionAt: accepted
        )
    }

    @Test func startupWindow404IsStillFreeAndTheNextPollComesFromTheModel() throws {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let policy = PollPolicy(adaptive: adaptive)
        let machine = JobMachine(policy: policy)
        var rng = SplitMix64(seed: 1)
        let job = accepted(.siteDelete, at: t0, deadline: t0.addingTimeInterval(900))
        let now = t0.addingTimeInterval(10)
        let after = try machine.step(job, .polled(.notFound), now: now, using: &rng).after
        #expect(after.state == .accepted)
        #expect(after.confirmations == 0)
        #expect(after.lastError == nil)
        var check = SplitMix64(seed: 1)
        let expected = adaptive.delay(model: policy.model(for: .siteDelete), elapsed: 10, using: &check)
        #expect(abs(try #require(after.nextActionAt).timeIntervalSince(now) - expected) < 0.001)
    }

    @Test(arguments: [JobKind.siteCreate, .siteClone, .siteDelete])
    func nothingIsScheduledPastTheDeadline(kind: JobKind) throws {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let machine = JobMachine(policy: PollPolicy(adaptive: adaptive))
        var rng = SplitMix64(seed: 1)
        // A deadline 5 s after acceptance: the model's first poll would be much later
        let job = JobSnapshot(
            kind: kind,
            state: .submitting,
            deadline: t0.addingTimeInterval(5),
            pendingAction: .submit,
            nextActionAt: t0
        )
        let after = try machine.step(job, .submitted(.accepted(operationID: "op")), now: t0, using: &rng).after
        #expect(try #require(after.nextActionAt) <= t0.addingTimeInterval(5))
    }

    @Test func fixedScheduleWhenAdaptiveIsOff() throws {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let machine = JobMachine(policy: PollPolicy(pollBackoff: Backoff(base: 2, multiplier: 1.5, cap: 20, jitter: 0)))
        var rng = SplitMix64(seed: 1)
        let job = JobSnapshot(
            kind: .siteClone,
            state: .submitting,
            deadline: t0.addingTimeInterval(1800),
            pendingAction: .submit,
            nextActionAt: t0
        )
        let after = try machine.step(job, .submitted(.accepted(operationID: "op")), now: t0, using: &rng).after
        #expect(after.nextActionAt == t0.addingTimeInterval(3))
    }

    // MARK: - Claim priority

    @Test func submitsFirstThenPollsNearTheirLikelyEnd() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let policy = PollPolicy(
            adaptive: adaptive,
            durations: [.siteCreate: DurationModel(prior: 60...300, durations: (0..<100).map { 95 + Double($0 % 11) })]
        )
        let now = t0.addingTimeInterval(100)
        let submit = JobSnapshot(kind: .siteCreate, state: .submitting, pendingAction: .submit, nextActionAt: now)
        // Both asked 10 s ago: one accepted 100 s ago (right at its likely end), one 20 s ago (far from it)
        let nearEnd = accepted(.siteCreate, at: t0, deadline: t0.addingTimeInterval(1800))
        let farFromEnd = accepted(.siteCreate, at: t0.addingTimeInterval(80), deadline: t0.addingTimeInterval(1800))
        let asked = now.addingTimeInterval(-10)
        let pSubmit = policy.claimPriority(for: submit, lastAskedAt: asked, now: now)
        let pNear = policy.claimPriority(for: nearEnd, lastAskedAt: asked, now: now)
        let pFar = policy.claimPriority(for: farFromEnd, lastAskedAt: asked, now: now)
        #expect(pSubmit > pNear)
        #expect(pNear > 0.3)
        #expect(pFar < 0.01)
        #expect(pNear > 100 * pFar)
        // A poll that waited longer is more urgent than the same poll asked just now
        let waited = policy.claimPriority(for: nearEnd, lastAskedAt: now.addingTimeInterval(-30), now: now)
        #expect(waited >= pNear)
    }
}

/// The estimator reads each observation for what it is: an interval, an end still to come, a newer one weighing more.
@Suite struct DurationEstimatorTests {
    @Test func endsSeenOnlyAtTheFirstPollArePlacedInsideTheInterval() {
        // Operations that all ended before a first poll at 20 s, against a 1–5 min prior: an estimate that took the
        // end at the poll would learn 20 s; this one learns "by 20 s", and its median moves below it
        let observations = Array(repeating: DurationObservation(low: 0, high: 20), count: 30)
        let model = DurationModel(prior: 60...300, observations: observations)
        #expect(model.quantile(0.5) < 20)
        #expect(model.cdf(21) > 0.9)
    }

    @Test func intervalsRecoverTheTrueMedianWhereTheirEndsWouldNot() {
        // Log-normal durations (median 50 s), looked at every 15 s: the end lies between two looks
        var rng = SplitMix64(seed: 5)
        var intervals: [DurationObservation] = []
        var atThePoll: [Double] = []
        for _ in 0..<400 {
            let u1 = max(Double.random(in: 0..<1, using: &rng), 1e-12)
            let u2 = Double.random(in: 0..<1, using: &rng)
            let duration = 50 * exp(0.4 * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
            let seen = (duration / 15).rounded(.up) * 15
            intervals.append(DurationObservation(low: seen - 15, high: seen))
            atThePoll.append(seen)
        }
        let fromIntervals = DurationModel(prior: 20...180, observations: intervals, halfLife: .infinity)
        let fromPolls = DurationModel(prior: 20...180, durations: atThePoll)
        #expect(abs(fromIntervals.quantile(0.5) - 50) < 4, "\(fromIntervals.quantile(0.5))")
        // The poll times carry half a gap of lag on average
        #expect(fromPolls.quantile(0.5) > fromIntervals.quantile(0.5) + 4)
    }

    @Test func operationsStillRunningAtTheirDeadlineCount() {
        // Half end at 100 s, half were still running at 150 s when given up: half the mass lies past 150 s
        let ended = Array(repeating: DurationObservation.exact(100), count: 20)
        let running = Array(repeating: DurationObservation(low: 150, high: nil), count: 20)
        let model = DurationModel(prior: 60...300, observations: ended + running, halfLife: .infinity)
        #expect(abs(model.cdf(150) - 0.5) < 0.05, "\(model.cdf(150))")
        let withoutThem = DurationModel(prior: 60...300, observations: ended, halfLife: .infinity)
        #expect(withoutThem.cdf(150) > 0.95)
    }

    @Test func newerObservationsWeighMoreSoAShiftIsFollowed() {
        // 100 site creations took 200 s, then Kinsta got faster: the 40 since took 50 s
        let old = Array(repeating: DurationObservation(low: 195, high: 200), count: 100)
        let new = Array(repeating: DurationObservation(low: 45, high: 50), count: 40)
        let model = DurationModel(prior: 60...300, observations: old + new, halfLife: 40)
        #expect(model.quantile(0.5) < 60)
        // Without the decay the old ones still rule
        let flat = DurationModel(prior: 60...300, observations: old + new, halfLife: .infinity)
        #expect(flat.quantile(0.5) > 150)
    }
}

/// The model is tabulated once and interpolated: it must still say what its closed form says.
@Suite struct DurationModelTableTests {
    @Test(arguments: [60.0, 80, 90, 95, 99, 100, 101, 105, 110, 125, 150])
    func oneObservedDurationIsALogNormalOfTheBandwidth(seconds: Double) {
        // One observation (at a whole 1 % log bin, e^4.61 s ≈ 100.5 s), no prior left (weight 1), no tail: the CDF
        // is Φ((ln x − 4.61) / 0.08)
        let centre = 4.61
        let model = DurationModel(
            prior: 60...300,
            durations: [exp(centre)],
            priorWeight: 1,
            bandwidth: 0.08,
            tailWeight: 0
        )
        let z = (log(seconds) - centre) / 0.08
        let cdf = 0.5 * (1 + erf(z / 2.0.squareRoot()))
        let density = exp(-0.5 * z * z) / (0.08 * (2 * Double.pi).squareRoot() * seconds)
        #expect(abs(model.cdf(seconds) - cdf) < 1e-3, "cdf \(model.cdf(seconds)) against \(cdf)")
        #expect(
            abs(model.density(seconds) - density) <= 0.01 * density + 1e-9,
            "density \(model.density(seconds)) against \(density)"
        )
    }

    @Test func cdfIsMonotoneAndBounded() {
        let model = DurationModel(prior: 20...180, durations: (0..<300).map { 20 + Double($0 % 97) * 1.7 })
        var previous = 0.0
        var seconds = 0.05
        while seconds < 2e7 {
            let value = model.cdf(seconds)
            #expect(value >= previous && value <= 1)
            previous = value
            seconds *= 1.01
        }
        #expect(model.cdf(0) == 0 && model.cdf(1e8) == 1)
        #expect(model.survival(1e8) == 0 && model.density(1e8) == 0)
    }
}
