import Foundation
import KinstaClient
import Logging
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport
import Synchronization
import Testing

/// A full disk (here: SQLite's `query_only`, which fails every write as storage would) while Kinsta has a job: the
/// answer that could not be committed is never acted on twice, and the job goes on once writes go through again.
@Suite struct StorageFaultTests {
    let policy = PollPolicy(
        pollBackoff: Backoff(base: 2, multiplier: 1.5, cap: 20, jitter: 0),
        errorBackoff: Backoff(base: 2, multiplier: 2, cap: 300, jitter: 0)
    )

    /// Kinsta, as a test drives it: the submit call can break storage while it is "at Kinsta".
    final class FaultingKinsta: KinstaAPI {
        let submitted = Mutex<[KinstaCall]>([])
        let reads = Mutex<[String]>([])
        let duringSubmit: @Sendable () async -> Void
        let sites: @Sendable () -> [JSONValue]

        init(duringSubmit: @escaping @Sendable () async -> Void, sites: @escaping @Sendable () -> [JSONValue]) {
            self.duringSubmit = duringSubmit
            self.sites = sites
        }

        func submit(_ call: KinstaCall) async -> SubmitOutcome {
            submitted.withLock { $0.append(call) }
            await duringSubmit()
            return .accepted(operationID: "sites:add-1")
        }
        func operationStatus(_ operationID: String) async -> PollOutcome { .inProgress }
        func read(_ path: String) async -> KinstaRead {
            reads.withLock { $0.append(path) }
            return .ok(["company": ["sites": .array(sites())]])
        }
    }

    func scratch() throws -> OpsDatabase {
        try TemporaryDatabase.make()
    }

    func newJob(_ database: OpsDatabase, clock: ManualClock) async throws -> StoredJob {
        let params = try ValidatedParams(
            kind: .siteCreatePlain,
            raw: ["display_name": "Alpha", "region": "us-central1"],
            defaultCompany: "c-1"
        )
        guard
            case .created(let job) = try await database.insert(
                NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                now: clock.now()
            )
        else { throw StorageTestError() }
        return job
    }

    struct StorageTestError: Error {}

    func makeEngine(_ database: OpsDatabase, _ api: FaultingKinsta, clock: ManualClock, seed: UInt64) -> JobEngine {
        JobEngine(
            database: database,
            api: api,
            policy: policy,
            clock: clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            seed: seed
        )
    }

    @Test func anAnswerThatCouldNotBeCommittedIsCommittedLaterNeverSentAgain() async throws {
        let database = try scratch()
        let clock = ManualClock()
        let api = FaultingKinsta(
            duringSubmit: { try? await database.setWritesFailForTesting(true) },
            sites: { [] }
        )
        let engine = makeEngine(database, api, clock: clock, seed: 1)
        let job = try await newJob(database, clock: clock)

        // When the disk fills while the POST is at Kinsta
        try await engine.runDue()
        #expect(api.submitted.withLock { $0.count } == 1)
        #expect(database.storage.outage != nil)
        // Then nothing more goes to Kinsta while commits fail, however often the engine turns
        for _ in 0..<5 {
            clock.advance(by: 10)
            _ = try? await engine.runDue()
        }
        #expect(api.submitted.withLock { $0.count } == 1)
        #expect(try await database.job(id: job.id)?.state == .submitting)

        // And once space is back, Kinsta's answer is committed: the same operation, no second POST
        try await database.setWritesFailForTesting(false)
        try await engine.runDue()
        let stored = try #require(try await database.job(id: job.id))
        #expect(stored.state == .accepted)
        #expect(stored.snapshot.operationID == "sites:add-1")
        #expect(api.submitted.withLock { $0.count } == 1)
        #expect(api.reads.withLock { $0.isEmpty })
        #expect(database.storage.outage == nil)
    }

    @Test func aRestartWhileTheAnswerWasHeldSettlesByReadingNeverBySending() async throws {
        let database = try scratch()
        let clock = ManualClock()
        let api = FaultingKinsta(
            duringSubmit: { try? await database.setWritesFailForTesting(true) },
            sites: { [["id": "s-1", "display_name": "Alpha"]] }
        )
        let engine = makeEngine(database, api, clock: clock, seed: 1)
        let job = try await newJob(database, clock: clock)
        try await engine.runDue()
        #expect(api.submitted.withLock { $0.count } == 1)

        // When space comes back only after the daemon restarted (the held answer is gone with the process)
        try await database.setWritesFailForTesting(false)
        let restarted = makeEngine(database, api, clock: clock, seed: 2)
        try await restarted.recover()
        try await restarted.run(until: clock.now().addingTimeInterval(60), on: clock)

        // Then the job is settled by reading the sites list: found, and never POSTed again
        let stored = try #require(try await database.job(id: job.id))
        #expect(stored.state == .succeeded)
        #expect(api.submitted.withLock { $0.count } == 1)
        #expect(!api.reads.withLock { $0.isEmpty })
    }

    @Test func theSameEngineWithoutItsHeldAnswerReadsToo() async throws {
        // The "sending" mark alone (no held answer, e.g. the held one was for an older version) means: read
        let database = try scratch()
        let clock = ManualClock()
        let api = FaultingKinsta(duringSubmit: {}, sites: { [] })
        let engine = makeEngine(database, api, clock: clock, seed: 1)
        let job = try await newJob(database, clock: clock)
        try await engine.admit()
        let admitted = try #require(try await database.job(id: job.id))
        var rng = SplitMix64(seed: 3)
        let marked = try JobMachine(policy: policy).step(admitted.snapshot, .sending, now: clock.now(), using: &rng)
        try #require(try await database.apply(marked, to: admitted, now: clock.now()) != nil)
        try await engine.runDue()
        #expect(api.submitted.withLock { $0.isEmpty })
        #expect(try await database.job(id: job.id)?.snapshot.pendingAction == .reconcile)
    }

    @Test func storageFaultsAreToldApartFromRequestErrors() async throws {
        let database = try scratch()
        try await database.setWritesFailForTesting(true)
        var caught: (any Error)?
        do { try await database.probeWrite() } catch { caught = error }
        let error = try #require(caught)
        #expect(StorageHealth.storageFault(error) != nil)
        #expect(StorageHealth.storageFault(StorageTestError()) == nil)
        let health = StorageHealth()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(health.recordFailure(error, now: t0))
        #expect(health.outage?.nextProbeAt == t0.addingTimeInterval(1))
        health.recordFailure(error, now: t0)
        health.recordFailure(error, now: t0)
        #expect(health.outage?.nextProbeAt == t0.addingTimeInterval(4))
        for _ in 0..<20 { health.recordFailure(error, now: t0) }
        #expect(health.outage?.nextProbeAt == t0.addingTimeInterval(30))
        health.recordSuccess()
        #expect(health.isAvailable)
        try await database.setWritesFailForTesting(false)
        try await database.probeWrite()
    }
}
