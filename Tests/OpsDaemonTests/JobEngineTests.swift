import Foundation
import KinstaClient
import Logging
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport
import Synchronization
import Testing

/// The engine under a manual clock with a scripted Kinsta: every schedule is exact and no test sleeps.
@Suite struct JobEngineTests {
    let policy = PollPolicy(
        pollBackoff: Backoff(base: 2, multiplier: 1.5, cap: 20, jitter: 0),
        errorBackoff: Backoff(base: 2, multiplier: 2, cap: 300, jitter: 0)
    )

    struct Harness {
        let database: OpsDatabase
        let clock: ManualClock
        let api: ScriptedKinstaAPI
        let engine: JobEngine

        func submit(_ kind: JobKind, _ raw: [String: JSONValue]) async throws -> StoredJob {
            let params = try ValidatedParams(kind: kind, raw: raw, defaultCompany: "company-1")
            guard
                case .created(let job) = try await database.insert(
                    NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                    now: clock.now()
                )
            else { throw EngineTestError("not created") }
            return job
        }

        func job(_ id: Int64) async throws -> StoredJob {
            guard let job = try await database.job(id: id) else { throw EngineTestError("no job \(id)") }
            return job
        }

        /// Admits the job and commits its "sending" mark, as the engine does right before a POST: the state a kill
        /// between the POST and its answer leaves behind.
        func admitAndMarkSending(_ id: Int64) async throws {
            try await engine.admit()
            let admitted = try await job(id)
            var rng = SplitMix64(seed: 3)
            let transition = try JobMachine(policy: engine.policyForTesting)
                .step(admitted.snapshot, .sending, now: clock.now(), using: &rng)
            guard try await database.apply(transition, to: admitted, now: clock.now()) != nil else {
                throw EngineTestError("not marked")
            }
        }

        /// A new engine on the same database: what a restarted daemon has.
        func restarted(api: ScriptedKinstaAPI, policy: PollPolicy? = nil) -> JobEngine {
            JobEngine(
                database: database,
                api: api,
                policy: policy ?? engine.policyForTesting,
                clock: clock,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                seed: 2
            )
        }
    }

    func harness(_ script: ScriptedKinstaAPI.Script = .init(), maxInFlight: Int = 8) throws -> Harness {
        let database = try TemporaryDatabase.make()
        let clock = ManualClock()
        let api = ScriptedKinstaAPI(script)
        let engine = JobEngine(
            database: database,
            api: api,
            policy: policy,
            clock: clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            maxInFlight: maxInFlight,
            seed: 1
        )
        return Harness(database: database, clock: clock, api: api, engine: engine)
    }

    static let plain: [String: JSONValue] = ["display_name": "Alpha", "region": "us-central1"]

    @Test func jobRunsFromSubmissionToSuccessOnTheDocumentedSchedule() async throws {
        // Given Kinsta hides the operation for two polls, reports it running twice, then finished
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .accepted(operationID: "sites:add-plain-1") }
        script.poll = { _, index in
            [.notFound, .notFound, .inProgress, .inProgress][safe: index] ?? .finished(data: ["idSite": "s-1"])
        }
        let h = try harness(script)
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        let start = h.clock.now()

        // When the engine runs for ten virtual minutes
        try await h.engine.run(until: start.addingTimeInterval(600), on: h.clock)

        // Then the job succeeded with Kinsta's result, after exactly one submission and five polls
        let done = try await h.job(job.id)
        #expect(done.state == .succeeded)
        #expect(done.result == .object(["idSite": "s-1"]))
        #expect(h.api.submits.count == 1)
        #expect(h.api.pollCount == 5)
        // And the history shows each state once, in order, gap-free
        let events = try await h.database.events(after: 0, jobID: job.id, limit: 50)
        #expect(events.map(\.to) == [.queued, .submitting, .accepted, .running, .succeeded])
        #expect(events.map(\.seq) == Array(1...5))
        // And the polls came at 3, 5, 8, 12.5, 19.25 s after acceptance (first poll, then the backoff)
        let finishedAfter = try #require(done.finishedAt).timeIntervalSince(start)
        #expect(abs(finishedAfter - 19.25) < 0.01)
    }

    @Test func fiveHundredMustBeConfirmedBeforeTheJobFails() async throws {
        var script = ScriptedKinstaAPI.Script()
        // A transient 500 between two 202s, then a real failure
        script.poll = { _, index in
            [.inProgress, .failed(message: "blip"), .inProgress][safe: index] ?? .failed(message: "disk full")
        }
        let h = try harness(script)
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        try await h.engine.run(until: h.clock.now().addingTimeInterval(600), on: h.clock)
        let done = try await h.job(job.id)
        #expect(done.state == .failed)
        #expect(done.snapshot.lastError?.contains("disk full") == true)
        // 3 polls before the real failure, then 6 to confirm it: 2 + 4 + 8 + 16 + 32 s ≥ the 60 s span
        #expect(h.api.pollCount == 9)
    }

    @Test func deadlineEndsAJobThatNeverFinishes() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.poll = { _, _ in .inProgress }
        let h = try harness(script)
        let job = try await h.submit(.siteDelete, ["site_id": "site-9"])
        let start = h.clock.now()
        try await h.engine.run(until: start.addingTimeInterval(3600), on: h.clock)
        let done = try await h.job(job.id)
        #expect(done.state == .timedOut)
        // 15 minutes for a delete, and not a poll later
        #expect(abs(try #require(done.finishedAt).timeIntervalSince(start) - 900) < 0.01)
    }

    @Test func jobsOnOneTargetNeverOverlapAndTheLimitHolds() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { call in .accepted(operationID: "op:\(call.path)") }
        script.poll = { _, index in index < 3 ? .inProgress : .finished(data: nil) }
        let h = try harness(script, maxInFlight: 2)
        let first = try await h.submit(
            .backupRestore,
            ["target_env_id": "env-1", "backup_id": 1, "notified_user_id": "54fb80af-576c-4fdc-ba4f-b596c83f15a1"]
        )
        let second = try await h.submit(
            .backupRestore,
            ["target_env_id": "env-1", "backup_id": 2, "notified_user_id": "54fb80af-576c-4fdc-ba4f-b596c83f15a1"]
        )
        let other = try await h.submit(.siteDelete, ["site_id": "s-2"])
        let third = try await h.submit(.siteDelete, ["site_id": "s-3"])

        // When the engine takes its first step
        try await h.engine.runDue()
        // Then the first restore and one delete are in flight; the second restore waits for its environment
        #expect(try await h.job(first.id).state.isInFlight)
        #expect(try await h.job(second.id).state == .queued)
        #expect(try await h.job(other.id).state.isInFlight)
        #expect(try await h.job(third.id).state == .queued)

        // And in the end every job finished, and the two restores never overlapped
        try await h.engine.run(until: h.clock.now().addingTimeInterval(3600), on: h.clock)
        let a = try await h.job(first.id)
        let b = try await h.job(second.id)
        #expect([a.state, b.state, try await h.job(third.id).state] == [.succeeded, .succeeded, .succeeded])
        let secondSubmitted = try #require(
            try await h.database.events(after: 0, jobID: b.id, limit: 9)
                .first { $0.to == .submitting }
        ).at
        #expect(secondSubmitted >= (try #require(a.finishedAt)))
    }

    @Test func restartNeverResubmitsAndSettlesByReading() async throws {
        // Given a create that was committed as submitting when the daemon died (Kinsta did create the site)
        let h = try harness()
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        try await h.admitAndMarkSending(job.id)
        #expect(try await h.job(job.id).state == .submitting)

        // When a new engine starts on the same database
        var script = ScriptedKinstaAPI.Script()
        script.read = { path in
            path.hasPrefix("/sites?company=company-1")
                ? .ok(["company": ["sites": [["id": "s-77", "display_name": "Alpha"]]]])
                : .notFound(message: "nope")
        }
        let api = ScriptedKinstaAPI(script)
        let engine = h.restarted(api: api)
        try await engine.recover()
        try await engine.run(until: h.clock.now().addingTimeInterval(60), on: h.clock)

        // Then it read the sites list, found the site, and never posted again
        let done = try await h.job(job.id)
        #expect(done.state == .succeeded)
        #expect(done.result == .object(["idSite": "s-77"]))
        #expect(api.submits.isEmpty)
        #expect(api.calls == [.read("/sites?company=company-1")])
    }

    @Test func restartWithNoTraceOfACreateSendsItAgainOnlyAfterTheGrace() async throws {
        let h = try harness()
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        try await h.admitAndMarkSending(job.id)
        let start = h.clock.now()
        let clock = h.clock
        let sentAt = Mutex<[Date]>([])
        var script = ScriptedKinstaAPI.Script()
        script.read = { _ in .ok(["company": ["sites": []]]) }
        script.submit = { _ in
            sentAt.withLock { $0.append(clock.now()) }
            return .accepted(operationID: "op-2")
        }
        let api = ScriptedKinstaAPI(script)
        let engine = h.restarted(api: api)
        try await engine.recover()
        // It keeps looking for the site (it could still appear) and sends nothing within the grace (240 s for a
        // plain site)
        try await engine.run(until: start.addingTimeInterval(239), on: h.clock)
        #expect(try await h.job(job.id).state == .submitting)
        #expect(api.submits.isEmpty)
        #expect(api.calls.count > 3)
        // Then, with still no site, it concludes Kinsta did nothing and sends it once
        try await engine.run(until: start.addingTimeInterval(600), on: h.clock)
        #expect(api.submits.count == 1)
        #expect(try #require(sentAt.withLock { $0.first }) >= start.addingTimeInterval(240))
        #expect(try await h.job(job.id).snapshot.operationID == "op-2")
    }

    @Test func restartWithNoTraceOfACreateByItsDeadlineAsksAnAdmin() async throws {
        // A grace longer than what is left of the deadline: no resend, an admin decides
        let h = try harness()
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        try await h.admitAndMarkSending(job.id)
        var script = ScriptedKinstaAPI.Script()
        script.read = { _ in .ok(["company": ["sites": []]]) }
        let api = ScriptedKinstaAPI(script)
        var policy = h.engine.policyForTesting
        policy.settleGraces[.siteCreatePlain] = 7200
        let engine = h.restarted(api: api, policy: policy)
        try await engine.recover()
        try await engine.run(until: h.clock.now().addingTimeInterval(1800), on: h.clock)
        let done = try await h.job(job.id)
        #expect(done.state == .needsAttention)
        #expect(api.submits.isEmpty)
    }

    @Test func aCreateAnswered5xxAfterKinstaBeganIsFoundNotSentTwice() async throws {
        // Given a create whose POST Kinsta took but answered 500; the site shows up 100 s later
        let h = try harness()
        let clock = h.clock
        let appearsAt = clock.now().addingTimeInterval(100)
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .serverError(status: 500, message: "Error occurred while creating a site") }
        script.read = { _ in
            clock.now() >= appearsAt
                ? .ok(["company": ["sites": [["id": "s-5", "display_name": "Alpha"]]]])
                : .ok(["company": ["sites": []]])
        }
        let api = ScriptedKinstaAPI(script)
        let engine = h.restarted(api: api)
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        try await engine.run(until: clock.now().addingTimeInterval(900), on: clock)
        // Then it was sent once, and settled by reading
        let done = try await h.job(job.id)
        #expect(done.state == .succeeded)
        #expect(done.result == .object(["idSite": "s-5"]))
        #expect(api.submits.count == 1)
    }

    @Test func restartFindsALateSiteWithoutResubmitting() async throws {
        // Given a create committed as submitting, whose site Kinsta shows only some minutes later
        let h = try harness()
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        try await h.admitAndMarkSending(job.id)
        let appearsAt = h.clock.now().addingTimeInterval(200)
        let clock = h.clock
        var script = ScriptedKinstaAPI.Script()
        script.read = { _ in
            clock.now() >= appearsAt
                ? .ok(["company": ["sites": [["id": "s-9", "display_name": "Alpha"]]]])
                : .ok(["company": ["sites": []]])
        }
        let api = ScriptedKinstaAPI(script)
        let engine = h.restarted(api: api)
        try await engine.recover()
        try await engine.run(until: h.clock.now().addingTimeInterval(1800), on: h.clock)
        // Then it succeeded once the site appeared, and nothing was posted again
        let done = try await h.job(job.id)
        #expect(done.state == .succeeded)
        #expect(done.result == .object(["idSite": "s-9"]))
        #expect(api.submits.isEmpty)
    }

    @Test func restartBeforeThePOSTLeftSendsItWithoutReading() async throws {
        // Given a job admitted (committed as submitting) whose POST had not left when the daemon died
        let h = try harness()
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        try await h.engine.admit()
        // When a new engine starts on the same database
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .accepted(operationID: "sites:add-plain-2") }
        // (the data names both outputs, so no read is needed after the success either)
        script.poll = { _, _ in .finished(data: ["idSite": "s-2", "idEnv": "e-2"]) }
        let api = ScriptedKinstaAPI(script)
        let engine = h.restarted(api: api)
        try await engine.recover()
        try await engine.run(until: h.clock.now().addingTimeInterval(60), on: h.clock)
        // Then it sent the job once, read nothing, and the job went on to succeed
        #expect(try await h.job(job.id).state == .succeeded)
        #expect(api.submits.count == 1)
        #expect(!api.calls.contains { if case .read = $0 { true } else { false } })
    }

    @Test func restartResumesPollingWithoutSubmitting() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .accepted(operationID: "site:clone-5") }
        script.poll = { _, _ in .inProgress }
        let h = try harness(script)
        let job = try await h.submit(.siteClone, ["display_name": "Copy", "source_env_id": "env-1"])
        try await h.engine.run(until: h.clock.now().addingTimeInterval(30), on: h.clock)
        #expect(try await h.job(job.id).state == .running)

        var resumed = ScriptedKinstaAPI.Script()
        resumed.poll = { _, _ in .finished(data: ["idSite": "s-5", "idEnv": "e-5"]) }
        let api = ScriptedKinstaAPI(resumed)
        let engine = h.restarted(api: api)
        // It counts the polling job as resumed, and changes nothing about it until its poll is due
        let before = try await h.job(job.id)
        #expect(try await engine.recover() == 1)
        #expect(try await h.job(job.id) == before)
        try await engine.run(until: h.clock.now().addingTimeInterval(60), on: h.clock)
        #expect(try await h.job(job.id).state == .succeeded)
        #expect(api.submits.isEmpty)
        #expect(api.calls.allSatisfy { $0 == .poll("site:clone-5") })
    }
}

struct EngineTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

/// A delete's 404 from `GET /sites/{id}` also means "the key may not read it": it is believed only when the
/// company's sites list, which the key can read, no longer holds the site.
@Suite struct DeleteConfirmationTests {
    let policy = PollPolicy(errorBackoff: Backoff(base: 2, multiplier: 2, cap: 300, jitter: 0))

    func settle(listed: Bool, company: String? = "company-1", list: KinstaRead? = nil) async throws -> StoredJob {
        let database = try TemporaryDatabase.make()
        let clock = ManualClock()
        var script = ScriptedKinstaAPI.Script()
        // The first DELETE's answer is lost (a timeout); the site then reads 404
        script.submit = { _ in .ambiguous(reason: "timed out") }
        script.read = { path in
            if path.hasPrefix("/sites?company=") {
                return list ?? .ok(["company": ["sites": listed ? [["id": "s-1", "display_name": "A"]] : []]])
            }
            return .notFound(message: "Could not find data or the user does not have permissions to retrieve it")
        }
        let api = ScriptedKinstaAPI(script)
        let engine = JobEngine(
            database: database,
            api: api,
            policy: policy,
            clock: clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            seed: 1,
            company: company
        )
        let params = try ValidatedParams(kind: .siteDelete, raw: ["site_id": "s-1"], defaultCompany: nil)
        guard
            case .created(let job) = try await database.insert(
                NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                now: clock.now()
            )
        else { throw EngineTestError("not created") }
        try await engine.run(until: clock.now().addingTimeInterval(120), on: clock)
        return try #require(try await database.job(id: job.id))
    }

    @Test func notListedEither() async throws {
        let job = try await settle(listed: false)
        #expect(job.state == .succeeded)
    }

    @Test func stillListedIsNotGone() async throws {
        let job = try await settle(listed: true)
        #expect(job.state == .needsAttention)
        #expect(job.snapshot.lastError?.contains("still in the company's sites list") == true)
    }

    @Test func noCompanyToAskIsNotGone() async throws {
        let job = try await settle(listed: false, company: nil)
        #expect(job.state == .needsAttention)
    }

    @Test func aCompanyTheKeyCannotReadIsNotGone() async throws {
        let job = try await settle(listed: false, list: .notFound(message: "no permission"))
        #expect(job.state == .needsAttention)
    }
}
