import Foundation
import GRDB
import OpsCore
import OpsTestSupport
import Testing

@testable import OpsStore

/// A database as the first release wrote it (only migration v1 run), frozen in `Fixtures/v1.sqlite`, opened and
/// migrated by today's code: migration v3 rewrites data (a job that was `submitting` is marked `sending`), so this is
/// the test that would see it skipped or changed.
@Suite struct SchemaFixtureTests {
    /// Where the fixture lives in the source tree (the generator writes it there).
    static let sourceFixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/v1.sqlite")

    /// The rows of the fixture: one job in each kind of state a v1 database held, with their events. The two
    /// `submitting` jobs are those v3 marks `sending` (a job stored before v3 may have been on its way to Kinsta).
    static let v1Rows = """
        INSERT INTO job (id, kind, params, note, target, state, version, attempt, operation_id, accepted_at, deadline,
            poll_count, error_streak, confirmations, pending_action, next_action_at, last_error, result, created_at,
            updated_at, finished_at, submitter_uid, submitter_gid, submitter_pid, idempotency_key, request_fingerprint)
        VALUES
            (1, 'site.create_plain', '{"company":"company-1","display_name":"Queued","region":"us-central1"}', 'hello',
             'site-name:Queued', 'queued', 0, 1, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL,
             1700000000000, 1700000000000, NULL, 1000, 1000, 42, NULL, NULL),
            (2, 'site.create_plain', '{"company":"company-1","display_name":"Sending","region":"us-central1"}', NULL,
             'site-name:Sending', 'submitting', 1, 1, NULL, NULL, NULL, 0, 0, 0, 'submit', 1700000001000, NULL, NULL,
             1700000001000, 1700000001000, NULL, NULL, NULL, NULL, NULL, NULL),
            (3, 'site.delete', '{"site_id":"site-9"}', NULL,
             'site:site-9', 'submitting', 3, 2, NULL, NULL, NULL, 0, 1, 0, 'reconcile', 1700000009000,
             'connection reset', NULL, 1700000002000, 1700000008000, NULL, NULL, NULL, NULL, NULL, NULL),
            (4, 'site.clone', '{"company":"company-1","display_name":"Clone","source_env_id":"env-1"}', NULL,
             'site-name:Clone', 'running', 3, 1, 'sites:clone-4', 1700000003000, 1700007203000, 2, 0, 0, 'poll',
             1700000063000, NULL, NULL, 1700000003000, 1700000033000, NULL, NULL, NULL, NULL, NULL, NULL),
            (5, 'site.create_plain', '{"company":"company-1","display_name":"Done","region":"us-central1"}', NULL,
             'site-name:Done', 'succeeded', 4, 1, 'sites:add-5', 1700000004000, 1700007204000, 3, 0, 0, NULL, NULL,
             NULL, '{"idSite":"site-5"}', 1700000004000, 1700000100000, 1700000100000, NULL, NULL, NULL,
             'deploy-42', '{"$kind":"site.create_plain","$note":null,"company":"company-1","display_name":"Done","region":"us-central1"}'),
            (6, 'backup.restore', '{"backup_id":"b-1","env_id":"env-2","target_env_id":"env-3"}', NULL,
             'env:env-3', 'needs_attention', 2, 1, NULL, NULL, NULL, 0, 0, 0, NULL, NULL,
             'Kinsta answered 500 and the effect could not be read', NULL, 1700000005000, 1700000006000,
             1700000006000, NULL, NULL, NULL, NULL, NULL);
        INSERT INTO event (seq, at, job_id, kind, from_state, to_state, attempt, operation_id, message) VALUES
            (1, 1700000000000, 1, 'site.create_plain', NULL, 'queued', 1, NULL, 'submitted by uid 1000, pid 42'),
            (2, 1700000001000, 2, 'site.create_plain', NULL, 'queued', 1, NULL, 'submitted'),
            (3, 1700000001000, 2, 'site.create_plain', 'queued', 'submitting', 1, NULL, NULL),
            (4, 1700000002000, 3, 'site.delete', NULL, 'queued', 1, NULL, 'submitted'),
            (5, 1700000002000, 3, 'site.delete', 'queued', 'submitting', 1, NULL, NULL),
            (6, 1700000008000, 3, 'site.delete', 'submitting', 'submitting', 2, NULL, 'connection reset'),
            (7, 1700000003000, 4, 'site.clone', NULL, 'queued', 1, NULL, 'submitted'),
            (8, 1700000003000, 4, 'site.clone', 'queued', 'submitting', 1, NULL, NULL),
            (9, 1700000003000, 4, 'site.clone', 'submitting', 'accepted', 1, 'sites:clone-4', NULL),
            (10, 1700000033000, 4, 'site.clone', 'accepted', 'running', 1, 'sites:clone-4', NULL),
            (11, 1700000004000, 5, 'site.create_plain', NULL, 'queued', 1, NULL, 'submitted'),
            (12, 1700000100000, 5, 'site.create_plain', 'running', 'succeeded', 1, 'sites:add-5', NULL),
            (13, 1700000005000, 6, 'backup.restore', NULL, 'queued', 1, NULL, 'submitted'),
            (14, 1700000006000, 6, 'backup.restore', 'submitting', 'needs_attention', 1, NULL,
             'Kinsta answered 500 and the effect could not be read');
        """

    /// Writes the fixture again. Not part of a normal run: the committed file is frozen, and this only documents how
    /// it was made (`OPSD_WRITE_V1_FIXTURE=1 swift test --filter writeTheV1Fixture`). Never rewrite it after a
    /// migration changed: it stands for databases already out there.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["OPSD_WRITE_V1_FIXTURE"] != nil))
    func writeTheV1Fixture() throws {
        let path = Self.sourceFixture.path
        try? FileManager.default.removeItem(atPath: path)
        // A rollback-journal queue: the file is the whole database, with no -wal beside it.
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v1 jobs and events")
        try queue.write { db in try db.execute(sql: Self.v1Rows) }
        try queue.vacuum()
        try queue.close()
    }

    @Test func aV1DatabaseIsMigratedAndEveryJobReadsBack() async throws {
        let fixture = try #require(
            Bundle.module.url(forResource: "v1", withExtension: "sqlite", subdirectory: "Fixtures")
        )
        // The fixture as it was written: migration v1 only
        var readOnly = Configuration()
        readOnly.readonly = true
        let frozen = try DatabaseQueue(path: fixture.path, configuration: readOnly)
        #expect(try await frozen.read { db in try Schema.migrator.appliedIdentifiers(db) } == ["v1 jobs and events"])
        #expect(try await frozen.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM job") } == 6)
        try frozen.close()
        // When today's store opens a copy of it (opening migrates it in place)
        let directory = try TemporaryDirectory.make("v1fixture")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/db.sqlite"
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        let database = try OpsDatabase(path: path)
        // Then every job reads back, with what v1 stored
        let jobs = try await database.jobs(state: nil, kind: nil, before: nil, limit: 100).sorted { $0.id < $1.id }
        #expect(jobs.map(\.id) == [1, 2, 3, 4, 5, 6])
        #expect(jobs.map(\.state) == [.queued, .submitting, .submitting, .running, .succeeded, .needsAttention])
        #expect(jobs[0].submitter == Peer(uid: 1000, gid: 1000, pid: 42))
        #expect(jobs[0].note == "hello")
        #expect(jobs[3].snapshot.operationID == "sites:clone-4")
        #expect(jobs[3].snapshot.pendingAction == .poll)
        #expect(jobs[4].result == .object(["idSite": "site-5"]))
        #expect(jobs[4].idempotencyKey == "deploy-42")
        #expect(jobs[5].snapshot.lastError == "Kinsta answered 500 and the effect could not be read")
        // And v3's data change: the jobs that were submitting are marked sending (never resent unread); no other is,
        // and none is unclear
        #expect(jobs.map(\.snapshot.sending) == [false, true, true, false, false, false])
        #expect(jobs.allSatisfy { !$0.snapshot.submissionUnclear })
        // And the history reads back whole, and the file checks clean with every migration applied
        #expect(try await database.events(after: 0, limit: 100).map(\.seq) == Array(1...14))
        #expect(try await database.integrityCheck() == ["ok"])
        #expect(try await database.operationDurations().isEmpty)
        #expect(try await database.deliveries(state: nil, endpoint: nil, limit: 10).isEmpty)
        // And the store writes to it as to a new one: the same request with the old key is the old job
        let again = try await database.insert(
            NewJob(
                params: try ValidatedParams(
                    kind: .siteCreatePlain,
                    raw: ["display_name": "Done", "region": "us-central1"],
                    defaultCompany: "company-1"
                ),
                note: nil,
                submitter: nil,
                idempotencyKey: "deploy-42"
            ),
            now: Date(timeIntervalSince1970: 1_800_000_000)
        )
        guard case .existing(let existing) = again else { throw TestFailure("expected the v1 job") }
        #expect(existing.id == 5)
    }
}
