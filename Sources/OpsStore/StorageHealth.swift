public import Foundation
import GRDB
import Synchronization

/// Whether the database takes writes, as the last commits found: a full disk, an I/O error or a file made read-only
/// stops every commit, and the daemon must then neither act on Kinsta (it could not record what came of it) nor
/// retry in a storm. The engine, the socket and health read this; any successful commit clears it.
public final class StorageHealth: Sendable {
    /// What is known while commits fail.
    public struct Outage: Sendable, Equatable {
        /// When the first failing commit of this outage was seen.
        public var since: Date
        /// SQLite's reason, e.g. "database or disk is full" (never any row data).
        public var reason: String
        /// Failed commits so far in this outage.
        public var failures: Int
        /// When the engine may try a write again (it backs off as a whole: 1 s, doubling to 30 s).
        public var nextProbeAt: Date
    }

    private let state = Mutex<Outage?>(nil)

    public init() {}

    /// The outage in force, or `nil` while commits succeed.
    public var outage: Outage? { state.withLock { $0 } }

    public var isAvailable: Bool { outage == nil }

    /// Records a failed write. Returns whether `error` was a storage fault (anything else is not this type's concern).
    @discardableResult
    public func recordFailure(_ error: any Error, now: Date) -> Bool {
        guard let reason = Self.storageFault(error) else { return false }
        state.withLock { outage in
            var next = outage ?? Outage(since: now, reason: reason, failures: 0, nextProbeAt: now)
            next.failures += 1
            next.reason = reason
            let delay = min(Self.maxProbeDelay, Self.firstProbeDelay * pow(2, Double(min(next.failures - 1, 16))))
            next.nextProbeAt = now.addingTimeInterval(delay)
            outage = next
        }
        return true
    }

    /// Records a committed write: the outage, if any, is over.
    public func recordSuccess() {
        state.withLock { $0 = nil }
    }

    public static let firstProbeDelay = 1.0
    public static let maxProbeDelay = 30.0

    /// SQLite's reason when `error` means the storage does not take writes (full, I/O error, read-only, cannot open,
    /// out of memory, corrupt, locked for longer than the busy timeout); `nil` for errors of the request itself
    /// (a constraint, a refused transition).
    public static func storageFault(_ error: any Error) -> String? {
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_NOMEM, .SQLITE_CORRUPT,
            .SQLITE_NOTADB, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_PROTOCOL:
            // SQLite's message only: the error's description would add the statement and its arguments.
            return error.message ?? "SQLite result code \(error.resultCode.rawValue)"
        default:
            return nil
        }
    }
}

extension OpsDatabase {
    /// A small real write (page 1's header, rewritten with the value it has), for finding out whether storage takes
    /// writes again when nothing else is due.
    public func probeWrite() async throws {
        try await writer.write { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            try db.execute(sql: "PRAGMA user_version = \(version)")
        }
    }

    /// Makes every write fail (SQLite's `query_only`), or lifts that: a storage fault for tests of the engine.
    package func setWritesFailForTesting(_ fail: Bool) async throws {
        try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA query_only = \(fail ? 1 : 0)")
        }
    }
}
