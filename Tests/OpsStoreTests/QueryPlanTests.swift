import Foundation
import GRDB
import OpsCore
import Testing

@testable import OpsStore

/// The engine's frequent reads use their indexes, whatever the queue holds (docs/performance.md, P3).
@Suite struct QueryPlanTests {
    /// At its limit the engine asks, on every wake, for the queued jobs that may start in the urgent headroom: a
    /// partial index of their own, not a scan of a queue of thousands. The query names it (`INDEXED BY`, which fails
    /// if the index cannot serve the query): this checks it can.
    @Test func theUrgentQueuedJobsAreReadThroughTheirPartialIndex() async throws {
        let database = try OpsDatabase.inMemory()
        let sql = """
            EXPLAIN QUERY PLAN SELECT * FROM job INDEXED BY job_urgent_queued WHERE state = 'queued' AND priority >= \(JobPriority.urgent)
            ORDER BY min(10, priority + max(0, 0 - created_at) / \(JobPriority.agingStep)) DESC, id LIMIT 256
            """
        let plan = try await database.writer.read { db in try Row.fetchAll(db, sql: sql).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("job_urgent_queued") }, "\(plan)")
        // And the index holds only urgent queued jobs
        for priority in [0, 4, 5, 10] {
            _ = try await database.insert(
                NewJob(
                    params: try ValidatedParams(
                        kind: JobKind(rawValue: "cache.clear")!,
                        raw: ["environment_id": .string("env-\(priority)")],
                        defaultCompany: nil
                    ),
                    note: nil,
                    submitter: nil,
                    idempotencyKey: nil,
                    priority: priority
                ),
                now: Date()
            )
        }
        let urgent = try await database.admissionView(limit: 10, urgentOnly: true).queued.map(\.priority)
        #expect(urgent == [10, 5])
    }
}
