import Foundation
import OpsCore
import OpsTestSupport
import Testing

@testable import OpsStore

/// The store's group commit as a service: what it does with the submissions it holds when it stops.
@Suite struct GroupCommitTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func submission(_ index: Int) throws -> NewJob {
        NewJob(
            params: try ValidatedParams(
                kind: .siteCreatePlain,
                raw: ["display_name": .string("Site \(index)"), "region": "us-central1"],
                defaultCompany: "company-1"
            ),
            note: nil,
            submitter: nil,
            idempotencyKey: nil
        )
    }

    /// Every submission was stored, with one event each and no gap.
    func expectAllStored(_ database: OpsDatabase, _ outcomes: [OpsDatabase.InsertResult]) async throws {
        #expect(outcomes.allSatisfy { if case .created = $0 { true } else { false } })
        #expect(try await database.jobs(state: nil, kind: nil, before: nil, limit: 100).count == outcomes.count)
        #expect(try await database.events(after: 0, limit: 100).map(\.seq) == Array(1...Int64(outcomes.count)))
    }

    /// A batch's transaction: a lone submission is the whole transaction (refused, it leaves nothing), while in a
    /// batch each job has a savepoint of its own, so a refusal takes back only that one.
    @Test func aRefusalTakesBackOnlyItsOwnJob() async throws {
        let database = try OpsDatabase.inMemory()
        var keyed = try submission(0)
        keyed.idempotencyKey = "key-1"
        _ = try await database.insert(keyed, now: start)
        // The same key for another request: refused
        var conflicting = try submission(1)
        conflicting.idempotencyKey = "key-1"
        await #expect(throws: StoreError.self) { try await database.write([(conflicting, start)]) }
        #expect(try await database.events(after: 0, limit: 100).count == 1)
        let results = try await database.write([
            (try submission(2), start), (conflicting, start), (try submission(3), start),
        ])
        #expect(results.map { (try? $0.get()) != nil } == [true, false, true])
        #expect(try await database.jobs(state: nil, kind: nil, before: nil, limit: 100).count == 3)
        #expect(try await database.events(after: 0, limit: 100).map(\.seq) == [1, 2, 3])
    }

    @Test func aGracefulStopCommitsWhatIsQueuedFirst() async throws {
        let database = try OpsDatabase.inMemory()
        let jobs = try (0..<20).map(submission)
        let start = self.start
        let outcomes = try await withThrowingTaskGroup(of: OpsDatabase.InsertResult?.self) { group in
            let (serving, signal) = AsyncStream<Void>.makeStream()
            group.addTask {
                await database.groupCommit.run(whenServing: { signal.yield() })
                return nil
            }
            for await _ in serving { break }
            for job in jobs { group.addTask { try await database.insert(job, now: start) } }
            // The group's graceful shutdown, as the daemon's ServiceGroup gives it last to the group commit
            database.submissions.stop()
            var outcomes: [OpsDatabase.InsertResult] = []
            for try await outcome in group { if let outcome { outcomes.append(outcome) } }
            return outcomes
        }
        try await expectAllStored(database, outcomes)
        // And once it ended, a submission is committed on its own
        _ = try await database.insert(try submission(20), now: start)
        #expect(try await database.events(after: 0, limit: 100).count == 21)
    }

    @Test func aCancelledGroupCommitHandsItsSubmissionsBack() async throws {
        let database = try OpsDatabase.inMemory()
        let jobs = try (0..<20).map(submission)
        let start = self.start
        // Given submissions under way when the group commit is cancelled
        let outcomes = try await withThrowingTaskGroup(of: OpsDatabase.InsertResult?.self) { group in
            let (serving, signal) = AsyncStream<Void>.makeStream()
            let runner = Task { await database.groupCommit.run(whenServing: { signal.yield() }) }
            for await _ in serving { break }
            for job in jobs { group.addTask { try await database.insert(job, now: start) } }
            runner.cancel()
            await runner.value
            // Then each submitter commits its own: none is refused for the group commit's sake
            var outcomes: [OpsDatabase.InsertResult] = []
            for try await outcome in group { if let outcome { outcomes.append(outcome) } }
            return outcomes
        }
        try await expectAllStored(database, outcomes)
    }
}
