import Foundation
import KinstaClient
import Logging
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport
import Synchronization
import Testing

/// The engine with the adaptive schedule and the shared budget, under a manual clock: it learns from its own
/// successes, and when the budget is short it spends it on submits and on polls near their likely end first.
@Suite struct AdaptiveEngineTests {
    static let plain: [String: JSONValue] = ["region": "us-central1"]

    func database() throws -> OpsDatabase {
        try TemporaryDatabase.make()
    }

    func insert(_ database: OpsDatabase, _ name: String, at now: Date) async throws -> StoredJob {
        let params = try ValidatedParams(
            kind: .siteCreatePlain,
            raw: Self.plain.merging(["display_name": .string(name)]) { $1 },
            defaultCompany: "company-1"
        )
        guard
            case .created(let job) = try await database.insert(
                NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                now: now
            )
        else { throw EngineTestError("not created") }
        return job
    }

    /// Runs `count` jobs of `kind` one after another against a Kinsta that finishes each exactly `seconds` after
    /// accepting it; returns the engine, each job's polls and its lag (from Kinsta's end to the poll that saw it).
    func runOneAfterAnother(
        _ kind: JobKind,
        _ raw: [String: JSONValue],
        finishingAfter seconds: Double,
        count: Int
    ) async throws -> (engine: JobEngine, database: OpsDatabase, polls: [Int], lags: [Double]) {
        let clock = ManualClock()
        let acceptedAt = Mutex<[String: Date]>([:])
        let counter = Mutex(0)
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in
            let number = counter.withLock { count in
                count += 1
                return count
            }
            let id = "op-\(number)"
            acceptedAt.withLock { $0[id] = clock.now() }
            return .accepted(operationID: id)
        }
        script.poll = { id, _ in
            let since = clock.now().timeIntervalSince(acceptedAt.withLock { $0[id]! })
            return since >= seconds ? .finished(data: nil) : .inProgress
        }
        let api = ScriptedKinstaAPI(script)
        let db = try database()
        let engine = JobEngine(
            database: db,
            api: api,
            policy: PollPolicy(adaptive: AdaptivePolling(jitter: 0)),
            clock: clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            maxInFlight: 1,
            seed: 1
        )
        try await engine.recover()
        var polls: [Int] = []
        var lags: [Double] = []
        for index in 0..<count {
            let before = api.pollCount
            let params = try ValidatedParams(
                kind: kind,
                raw: raw.merging(["display_name": .string("S\(index)")]) { $1 },
                defaultCompany: "company-1"
            )
            guard
                case .created(let job) = try await db.insert(
                    NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                    now: clock.now()
                )
            else { throw EngineTestError("not created") }
            try await engine.run(until: clock.now().addingTimeInterval(1200), on: clock)
            let done = try #require(try await db.job(id: job.id))
            #expect(done.state == .succeeded)
            polls.append(api.pollCount - before)
            let accepted = try #require(done.snapshot.acceptedAt)
            lags.append(try #require(done.finishedAt).timeIntervalSince(accepted) - seconds)
        }
        return (engine, db, polls, lags)
    }

    @Test func engineLearnsFromItsOwnSuccesses() async throws {
        // Given Kinsta finishes every plain site exactly 40 s after accepting it (the prior says 30 s–2 min)
        // When 30 jobs run one after another
        let (engine, db, pollsPerJob, lags) = try await runOneAfterAnother(
            .siteCreatePlain,
            Self.plain,
            finishingAfter: 40,
            count: 30
        )

        // Then the store holds every duration, and the model in force learned them
        #expect(try await db.operationDurations(of: .siteCreatePlain).count == 30)
        #expect(engine.currentPolicy.model(for: .siteCreatePlain).observations == 30)
        // And the later jobs are caught within a few seconds of their end (the first ones, under the prior, about
        // 10 s after it), for at most one more poll; no lag ever passes 20 s
        #expect(lags.allSatisfy { $0 >= 0 && $0 <= 20 })
        #expect(lags.suffix(10).max()! <= 4)
        #expect(lags.suffix(10).max()! < lags.prefix(5).max()! / 2)
        #expect(pollsPerJob.suffix(10).allSatisfy { $0 <= pollsPerJob.prefix(5).max()! + 1 })
    }

    @Test func aPriorFarTooLateIsFoundByTheFirstOperations() async throws {
        // Given clones (the prior says 2–8 min) that Kinsta finishes 10 s after accepting them
        // When 20 run one after another
        let (engine, _, polls, lags) = try await runOneAfterAnother(
            .siteClone,
            ["source_env_id": "env-1"],
            finishingAfter: 10,
            count: 20
        )
        // Then each is seen within 20 s of its end from the first on (a first poll at the prior's 2 % quantile would
        // come after 2 minutes), and the model's median moves below 20 s
        #expect(lags.allSatisfy { $0 >= 0 && $0 <= 20 }, "\(lags)")
        #expect(engine.currentPolicy.model(for: .siteClone).quantile(0.5) < 20)
        // And the last ones are seen within a few seconds, for a few polls each
        #expect(lags.suffix(5).allSatisfy { $0 <= 6 }, "\(lags)")
        #expect(polls.suffix(5).allSatisfy { $0 <= 4 }, "\(polls)")
    }

    @Test func starvedBudgetServesTheSubmitAndTheNearEndPollFirst() async throws {
        // Given plain sites that are known to take about 100 s
        let clock = ManualClock()
        let start = clock.now()
        let db = try database()
        let setup = JobMachine(policy: PollPolicy(firstPollDelay: 0))
        var rng = SplitMix64(seed: 1)
        func accepted(_ name: String, at time: Date) async throws -> StoredJob {
            var job = try await insert(db, name, at: time)
            for input in [JobInput.begin, .submitted(.accepted(operationID: "op-\(name)"))] {
                job = try #require(
                    try await db.apply(
                        try setup.step(job.snapshot, input, now: time, using: &rng),
                        to: job,
                        now: time
                    )
                ).job
            }
            return job
        }
        // One operation accepted 100 s ago (its end is likely now), three accepted 10 s ago (far from it), all
        // due now, and a new job waiting to be submitted
        _ = try await accepted("near", at: start)
        for name in ["far1", "far2", "far3"] { _ = try await accepted(name, at: start.addingTimeInterval(90)) }
        clock.advance(to: start.addingTimeInterval(100))
        _ = try await insert(db, "new", at: clock.now())

        // And a budget of one call now, then one every 10 s
        let budget = RequestBudget(ratePerMinute: 6, burst: 1, clock: clock)
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .accepted(operationID: "op-new") }
        script.poll = { _, _ in .inProgress }
        let api = ScriptedKinstaAPI(script)
        let learned = DurationModel(prior: 30...120, durations: (0..<50).map { 95 + Double($0 % 11) })
        let engine = JobEngine(
            database: db,
            api: api,
            policy: PollPolicy(adaptive: AdaptivePolling(jitter: 0), durations: [.siteCreatePlain: learned]),
            clock: clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            maxInFlight: 10,
            seed: 1,
            budget: budget
        )

        // When the engine runs a step at each token
        var perStep: [Int] = []
        for _ in 0..<2 {
            perStep.append(try await engine.runDue())
            clock.advance(by: 10)
        }

        // Then it never claimed more than the budget could serve, and spent it on the submit, then the near-end poll
        #expect(perStep == [1, 1])
        #expect(api.calls == [.submit(api.submits[0]), .poll("op-near")])
        // And the far polls waited in the database, not for tokens, and were served as their own ends came closer
        #expect(!clock.hasSleepers)
        for _ in 0..<12 {
            perStep.append(try await engine.runDue())
            clock.advance(by: 10)
        }
        #expect(perStep.allSatisfy { $0 <= 1 })
        for name in ["far1", "far2", "far3"] { #expect(api.calls.contains(.poll("op-\(name)"))) }
    }
}
