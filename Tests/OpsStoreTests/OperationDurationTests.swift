import Foundation
import OpsCore
import OpsStore
import OpsTestSupport
import Testing

/// The adaptive schedule's history: a success seen by a poll records what it showed of the duration (an interval) in
/// the same transaction, so does a deadline that came first (still running), and the store keeps only the newest
/// `durationHistory` per kind.
@Suite struct OperationDurationTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let machine = JobMachine(policy: PollPolicy())

    /// Stores a job and applies `steps` to it, each at its seconds after `start`.
    func run(
        _ database: OpsDatabase,
        _ params: ValidatedParams,
        _ steps: [(JobInput, Double)]
    ) async throws -> StoredJob {
        var rng = SplitMix64(seed: 1)
        guard
            case .created(var job) = try await database.insert(
                NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        else { throw TestFailure("not created") }
        for (input, seconds) in steps {
            let at = start.addingTimeInterval(seconds)
            job = try #require(
                try await database.apply(
                    try machine.step(job.snapshot, input, now: at, using: &rng),
                    to: job,
                    now: at
                )
            ).job
        }
        return job
    }

    /// Runs one plain-site job from insert to the poll that answers `answer`, `seconds` after acceptance.
    func finish(
        _ database: OpsDatabase,
        name: String,
        after seconds: Double,
        answer: PollOutcome = .finished(data: nil)
    ) async throws -> StoredJob {
        let params = try ValidatedParams(
            kind: .siteCreatePlain,
            raw: ["display_name": .string(name), "region": "us"],
            defaultCompany: "c"
        )
        return try await run(
            database,
            params,
            [
                (.begin, 0), (.submitted(.accepted(operationID: "op-\(name)")), 0), (.polled(answer), seconds),
            ]
        )
    }

    @Test func successByPollRecordsItsDuration() async throws {
        let database = try OpsDatabase.inMemory()
        // Accepted at 0, first (and only) poll at 93.5 s: the end lies in (0, 93.5], and that is what is kept (the
        // model places it inside; neither 93.5 s nor the middle is known)
        let job = try await finish(database, name: "a", after: 93.5)
        #expect(job.state == .succeeded)
        let seen = DurationObservation(low: 0, high: 93.5)
        #expect(try await database.operationDurations(of: .siteCreatePlain) == [seen])
        #expect(try await database.operationDurations() == [.siteCreatePlain: [seen]])
    }

    @Test func applyReportsTheDurationItRecorded() async throws {
        let database = try OpsDatabase.inMemory()
        var rng = SplitMix64(seed: 1)
        let params = try ValidatedParams(
            kind: .siteCreatePlain,
            raw: ["display_name": "r", "region": "us"],
            defaultCompany: "c"
        )
        guard
            case .created(var job) = try await database.insert(
                NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        else { throw TestFailure("not created") }
        // Every step before the success records nothing, and says so; the success seen at 93.5 s records (0, 93.5]
        var reported: [DurationObservation?] = []
        for (input, seconds) in [
            (JobInput.begin, 0.0), (.submitted(.accepted(operationID: "op")), 0), (.polled(.finished(data: nil)), 93.5),
        ] {
            let at = start.addingTimeInterval(seconds)
            let applied = try #require(
                try await database.apply(try machine.step(job.snapshot, input, now: at, using: &rng), to: job, now: at)
            )
            job = applied.job
            reported.append(applied.recordedObservation)
        }
        let seen = DurationObservation(low: 0, high: 93.5)
        #expect(reported == [nil, nil, seen])
        #expect(try await database.operationDurations(of: .siteCreatePlain) == [seen])
    }

    @Test func theEndIsPlacedBetweenTheLastRunningAnswerAndTheFinishedOne() async throws {
        let database = try OpsDatabase.inMemory()
        let params = try ValidatedParams(
            kind: .siteClone,
            raw: ["display_name": "c", "source_env_id": "env-1"],
            defaultCompany: "c"
        )
        // Running at 200 s, finished at 204 s: the end lies in (200, 204] (no lag learned)
        _ = try await run(
            database,
            params,
            [
                (.begin, 0), (.submitted(.accepted(operationID: "op")), 0), (.polled(.inProgress), 200),
                (.polled(.finished(data: nil)), 204),
            ]
        )
        #expect(try await database.operationDurations(of: .siteClone) == [DurationObservation(low: 200, high: 204)])
    }

    @Test func aStartupWindow404IsALookToo() async throws {
        let database = try OpsDatabase.inMemory()
        let params = try ValidatedParams(
            kind: .siteCreatePlain,
            raw: ["display_name": "w", "region": "us"],
            defaultCompany: "c"
        )
        // Not visible yet at 10 s, finished at 50 s: the end lies in (10, 50]
        _ = try await run(
            database,
            params,
            [
                (.begin, 0), (.submitted(.accepted(operationID: "op")), 0), (.polled(.notFound), 10),
                (.polled(.finished(data: nil)), 50),
            ]
        )
        #expect(try await database.operationDurations(of: .siteCreatePlain) == [DurationObservation(low: 10, high: 50)])
    }

    @Test func aDeadlineRecordsAnOperationStillRunning() async throws {
        let database = try OpsDatabase.inMemory()
        let params = try ValidatedParams(
            kind: .siteCreatePlain,
            raw: ["display_name": "d", "region": "us"],
            defaultCompany: "c"
        )
        // Running at 600 s, still no end at the deadline: it ran longer than 600 s (right-censored), which a model
        // that only learned from successes would never hear of
        let deadline = Double(JobKind.siteCreatePlain.spec.defaultDeadline)
        let job = try await run(
            database,
            params,
            [
                (.begin, 0), (.submitted(.accepted(operationID: "op")), 0), (.polled(.inProgress), 600),
                (.polled(.inProgress), deadline),
            ]
        )
        #expect(job.state == .timedOut)
        #expect(
            try await database.operationDurations(of: .siteCreatePlain) == [DurationObservation(low: 600, high: nil)]
        )
    }

    @Test func otherEndingsRecordNothing() async throws {
        let database = try OpsDatabase.inMemory()
        // A 202 is no end, and a failure says nothing about how long a success takes
        _ = try await finish(database, name: "running", after: 40, answer: .inProgress)
        _ = try await finish(database, name: "failed", after: 40, answer: .failed(message: "x"))
        #expect(try await database.operationDurations().isEmpty)
    }

    @Test func onlyTheNewestAreKeptPerKind() async throws {
        let database = try OpsDatabase.inMemory(durationHistory: 3)
        for index in 1...5 {
            _ = try await finish(database, name: "s\(index)", after: Double(index * 10))
        }
        #expect(
            try await database.operationDurations(of: .siteCreatePlain)
                == [30.0, 40, 50].map { DurationObservation(low: 0, high: $0) }
        )
    }
}
