public import Foundation
public import OpsStore

/// A fresh directory of its own under /tmp, for a test's database, socket or files.
///
/// Under /tmp, not `$TMPDIR`, and short: a Unix socket's path must fit in `sun_path` (108 bytes), and the daemon
/// harness puts its socket here. `mkdtemp` makes it mode 0700 and unique, so tests running at once never share one.
public enum TemporaryDirectory {
    /// Creates the directory (`/tmp/<prefix>-XXXXXX`) and returns its path.
    public static func make(_ prefix: String = "ops") throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return String(cString: made)
    }
}

/// The one way tests and the benchmark open a scratch ``OpsDatabase`` file: a real file (WAL, migrations, file mode) in
/// a fresh ``TemporaryDirectory``, so a test sees what the daemon sees and no two tests share a file. (A test that is
/// not about files, the WAL or durability can use `OpsDatabase.inMemory()` instead.)
///
/// Holding this value keeps the directory; it is removed when the value goes. Tests that want only the database use
/// ``make(durationHistory:)``.
public final class TemporaryDatabase: Sendable {
    public let directory: URL
    /// The database file (its `-wal` and `-shm` sit beside it), for tests that look at the bytes on disk.
    public let path: String
    public let database: OpsDatabase

    /// - Parameter prefix: names the directory, so a leftover one says whose it was.
    public init(_ prefix: String = "opsdb", durationHistory: Int = 500) throws {
        directory = URL(fileURLWithPath: try TemporaryDirectory.make(prefix), isDirectory: true)
        path = directory.appendingPathComponent("db.sqlite").path
        database = try OpsDatabase(path: path, durationHistory: durationHistory)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Just the database. Its directory is left for the system to clear with the rest of /tmp: removing it while the
    /// pool is open would break the next connection the pool opens.
    public static func make(durationHistory: Int = 500) throws -> OpsDatabase {
        let directory = try TemporaryDirectory.make("opsdb")
        return try OpsDatabase(path: directory + "/db.sqlite", durationHistory: durationHistory)
    }
}

extension OpsDatabase {
    /// Runs `body` while this database's ``GroupCommit`` runs, as it does in the daemon's service group (submissions
    /// then share transactions), and cancels it afterwards. Without it, each submission is its own transaction.
    public func withGroupCommit<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (serving, signal) = AsyncStream<Void>.makeStream()
            let groupCommit = self.groupCommit
            group.addTask { await groupCommit.run(whenServing: { signal.yield() }) }
            for await _ in serving { break }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}
