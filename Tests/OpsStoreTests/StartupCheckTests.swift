import Foundation
import OpsCore
import OpsStore
import OpsTestSupport
import Testing

/// A file the store must not open for writing is refused, by name, and left exactly as it was found.
@Suite struct StartupCheckTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A directory holding a real database of `jobs` jobs, closed (so its WAL is checkpointed and removed).
    func realDatabase(jobs: Int = 40) async throws -> (URL, String) {
        let directory = URL(fileURLWithPath: try TemporaryDirectory.make("startup"), isDirectory: true)
        let path = directory.appendingPathComponent("db.sqlite").path
        try await Self.fill(path, jobs: jobs, at: start)
        return (directory, path)
    }

    static func fill(_ path: String, jobs: Int, at start: Date) async throws {
        let database = try OpsDatabase(path: path)
        for index in 0..<jobs {
            let params = try ValidatedParams(
                kind: .siteCreatePlain,
                raw: ["display_name": .string("Site \(index)"), "region": "us-central1"],
                defaultCompany: "company-1"
            )
            _ = try await database.insert(
                NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        }
        try database.closeForTesting()
    }

    /// Every file in `directory` with its bytes.
    static func snapshot(_ directory: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            files[name] = try Data(contentsOf: directory.appendingPathComponent(name))
        }
        return files
    }

    func expectRefused(_ path: String, _ reason: DatabaseRefusal.Reason, in directory: URL) throws {
        let before = try Self.snapshot(directory)
        #expect(before[(path as NSString).lastPathComponent] != nil)
        do {
            _ = try OpsDatabase(path: path)
            Issue.record("the database was opened")
        } catch let refusal as DatabaseRefusal {
            #expect(refusal.reason == reason)
            #expect(refusal.message.contains(path), "\(refusal.message)")
            #expect(!refusal.message.contains("\n"))
            #expect(refusal.message.contains("it was not changed"))
        }
        // Not a byte changed, and no file added or removed beside it
        #expect(try Self.snapshot(directory) == before)
    }

    @Test func aDatabaseWithAMigrationThisVersionDoesNotKnowIsRefusedUnchanged() async throws {
        let (directory, path) = try await realDatabase()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Given a database a newer version migrated (one more applied migration row)
        do {
            let database = try OpsDatabase(path: path)
            try await database.executeForTesting(
                "INSERT INTO grdb_migrations (identifier) VALUES ('v99 from the future')"
            )
            try database.closeForTesting()
        }
        // Then this version refuses it, naming the migration, and changes nothing
        try expectRefused(path, .newerSchema, in: directory)
        do {
            _ = try OpsDatabase(path: path)
        } catch let refusal as DatabaseRefusal {
            #expect(refusal.message.contains("v99 from the future"))
        }
    }

    @Test func aFileThatIsNotADatabaseIsRefusedUnchanged() throws {
        let directory = URL(fileURLWithPath: try TemporaryDirectory.make("startup"), isDirectory: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("db.sqlite").path
        var rng = SplitMix64(seed: 7)
        try Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(to: URL(fileURLWithPath: path))
        try expectRefused(path, .corrupt, in: directory)
    }

    @Test func aTruncatedDatabaseIsRefusedUnchanged() async throws {
        let (directory, path) = try await realDatabase(jobs: 200)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Given the file cut short (a full disk, a copy that stopped half way), its -wal gone with the clean close
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.count > 8 * 4096, "the database is too small to cut: \(bytes.count) bytes")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        try expectRefused(path, .corrupt, in: directory)
    }

    @Test func aSoundDatabaseLeftWithItsWALOpensWithEverything() async throws {
        let (directory, path) = try await realDatabase(jobs: 3)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Given a database still open elsewhere with a commit only in its WAL (as a kill leaves it)
        let first = try OpsDatabase(path: path)
        _ = try await first.insert(
            NewJob(
                params: try ValidatedParams(
                    kind: .siteCreatePlain,
                    raw: ["display_name": "In WAL", "region": "us"],
                    defaultCompany: "c"
                ),
                note: nil,
                submitter: nil,
                idempotencyKey: nil
            ),
            now: start
        )
        // Then the check reads through the WAL and lets it open, with every job
        let second = try OpsDatabase(path: path)
        #expect(try await second.jobs(state: nil, kind: nil, before: nil, limit: 10).count == 4)
    }
}
