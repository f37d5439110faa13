import Foundation
import GRDB
import OpsCore
import Testing

@testable import OpsStore

/// The rows the GRDB records write are the rows the store's SQL wrote before them.
@Suite struct RecordsTests {
    @Test func aNewJobRowIsTheOneTheSchemaDefaultsMake() async throws {
        let database = try OpsDatabase.inMemory()
        // Given a job stored through its record (every column written)
        _ = try await database.insert(
            NewJob(
                params: try ValidatedParams(
                    kind: .siteCreatePlain,
                    raw: ["display_name": "Rows", "region": "us-central1"],
                    defaultCompany: "company-1"
                ),
                note: "n",
                submitter: Peer(uid: 1000, gid: 100, pid: 42),
                idempotencyKey: "key-1"
            ),
            now: Date(timeIntervalSince1970: 1_800_000_000)
        )
        // And a copy made by the INSERT the store used before, which named only these columns and left the rest to
        // the schema's defaults
        try await database.executeForTesting(
            """
            INSERT INTO job (kind, params, note, target, state, created_at, updated_at,
                submitter_uid, submitter_gid, submitter_pid, idempotency_key, request_fingerprint)
            SELECT kind, params, note, target, 'queued', created_at, updated_at,
                submitter_uid, submitter_gid, submitter_pid, 'key-2', request_fingerprint FROM job WHERE id = 1
            """
        )
        // Then the two rows differ only in their id and key
        let rows = try database.writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM job ORDER BY id") }
        #expect(rows.count == 2)
        let columns = rows[0].columnNames.filter { $0 != "id" && $0 != "idempotency_key" }
        #expect(columns.count == 29)
        for column in columns {
            #expect(rows[0][column] as DatabaseValue == rows[1][column] as DatabaseValue, "column \(column)")
        }
    }

    /// The cached INSERTs name their columns by hand: every field must land in its own column.
    @Test func cachedInsertsWriteEveryFieldToItsColumn() async throws {
        let database = try OpsDatabase.inMemory()
        var job = JobRecord(
            new: NewJob(
                params: try ValidatedParams(
                    kind: .siteCreatePlain,
                    raw: ["display_name": "Rows", "region": "us-central1"],
                    defaultCompany: "company-1"
                ),
                note: "n",
                submitter: Peer(uid: 1000, gid: 100, pid: 42),
                idempotencyKey: "key-1"
            ),
            fingerprint: "f",
            at: 1_800_000_000_000
        )
        // Every column set to a value of its own, so two swapped columns cannot read back equal.
        job.state = JobState.running.rawValue
        (job.version, job.attempt, job.operationID, job.acceptedAt, job.deadline) = (3, 2, "op", 11, 12)
        (job.pollCount, job.errorStreak, job.confirmations) = (4, 5, 6)
        (job.pendingAction, job.nextActionAt, job.lastError, job.result) = ("poll", 13, "e", #"{"r":1}"#)
        (job.updatedAt, job.finishedAt, job.submissionUnclear, job.sending, job.priority) = (14, 15, true, true, 7)
        job.step = "s"
        let written = job
        let newEvent = EventRecord(
            seq: nil,
            at: 21,
            jobID: 0,
            kind: "site.create",
            fromState: "queued",
            toState: "submitting",
            attempt: 7,
            operationID: "op-2",
            message: "m",
            planID: 31
        )
        let (readJob, readEvent, stored) = try await database.writer.write { db in
            try db.execute(sql: "INSERT INTO plan (id, name, created_at) VALUES (32, 'p', 1)")
            var job = written
            job.planID = 32
            var event = newEvent
            try job.insertCached(db)
            event.jobID = try #require(job.id)
            try event.insertCached(db)
            return (
                try JobRecord.fetchOne(db, key: job.id), try EventRecord.fetchOne(db, key: event.seq), (job, event)
            )
        }
        #expect(readJob == stored.0)
        #expect(readEvent == stored.1)
        #expect(stored.0.id != nil && stored.1.seq != nil)
    }

    @Test func aNewDeliveryRowIsTheOneTheSchemaDefaultsMake() async throws {
        let database = try OpsDatabase.inMemory()
        database.setDeliveryPlanner(
            DeliveryPlanner(
                wants: { _ in true },
                entries: { _, _ in [OutboxEntry(endpoint: "a", body: Data("{}".utf8))] }
            )
        )
        // Given the delivery of a new job's first event, stored through its record
        _ = try await database.insert(
            NewJob(
                params: try ValidatedParams(
                    kind: .siteCreatePlain,
                    raw: ["display_name": "Rows", "region": "us-central1"],
                    defaultCompany: "company-1"
                ),
                note: nil,
                submitter: nil,
                idempotencyKey: nil
            ),
            now: Date(timeIntervalSince1970: 1_800_000_000)
        )
        // And a copy made by the INSERT the store used before
        try await database.executeForTesting(
            """
            INSERT INTO delivery (event_seq, job_id, endpoint, body, state, next_attempt_at, created_at, updated_at)
            SELECT event_seq, job_id, 'b', body, 'pending', next_attempt_at, created_at, updated_at FROM delivery
            """
        )
        // Then the two rows differ only in their id and endpoint
        let rows = try database.writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM delivery ORDER BY id") }
        #expect(rows.count == 2)
        let columns = rows[0].columnNames.filter { $0 != "id" && $0 != "endpoint" }
        #expect(columns.count == 11)
        for column in columns {
            #expect(rows[0][column] as DatabaseValue == rows[1][column] as DatabaseValue, "column \(column)")
        }
    }
}
