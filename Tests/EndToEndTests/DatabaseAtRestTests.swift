import Foundation
import OpsCore
import OpsStore
import Testing

#if canImport(Glibc)
import Glibc
#endif
#if canImport(CDispatch)
import CDispatch  // where this target's Glibc `stat` fields come from (see Sources/OpsDaemon/SocketFile.swift)
#endif

/// The daemon binary on a database it must not write: refused with one line naming the file, exit status 1, and the
/// file left byte for byte as it was.
@Suite(.serialized) struct DatabaseAtRestTests {
    enum Fault: String, CaseIterable, Sendable {
        case garbage, truncated, newerMigration
    }

    /// Writes the faulty database at `path`.
    static func plant(_ fault: Fault, at path: String) async throws {
        switch fault {
        case .garbage:
            try Data((0..<32_768).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: path))
        case .truncated, .newerMigration:
            let database = try OpsDatabase(path: path)
            for index in 0..<(fault == .truncated ? 200 : 3) {
                let params = try ValidatedParams(
                    kind: .siteCreatePlain,
                    raw: ["display_name": .string("Site \(index)"), "region": "us-central1"],
                    defaultCompany: "c"
                )
                _ = try await database.insert(
                    NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                    now: Date()
                )
            }
            if fault == .newerMigration {
                try await database.executeForTesting("INSERT INTO grdb_migrations (identifier) VALUES ('v9 future')")
            }
            try database.closeForTesting()
            if fault == .truncated {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
            }
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: Fault.allCases)
    func theDaemonRefusesADatabaseItMustNotWrite(_ fault: Fault) async throws {
        let work = try shortTemporaryDirectory("ko-db")
        defer { try? FileManager.default.removeItem(at: work) }
        let state = work.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let path = state.appendingPathComponent("kinsta-opsd.sqlite").path
        try await Self.plant(fault, at: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let names = try FileManager.default.contentsOfDirectory(atPath: state.path).filter {
            $0.hasPrefix("kinsta-opsd.sqlite")
        }

        let (status, lines) = try await AtRest.refusal(work)

        // One line, naming the file and what to do; exit status 1; no socket was put up
        #expect(status == 1)
        #expect(lines.count == 1, "\(lines)")
        let line = lines.first ?? ""
        #expect(line.contains("cannot start") && line.contains(path), "\(line)")
        #expect(line.contains(fault == .newerMigration ? "newer kinsta-opsd" : "restore it from a backup"), "\(line)")
        #expect(AtRest.status(work.appendingPathComponent("s.sock").path) == nil)
        // And the database is unchanged, byte for byte, with no -wal or -shm added
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: state.path).filter {
                $0.hasPrefix("kinsta-opsd.sqlite")
            }
            .sorted() == names.sorted()
        )
    }
}
