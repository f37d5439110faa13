import GRDB
import Synchronization

extension OpsDatabase {
    /// Empties the WAL after secrets were erased, or when an earlier attempt could not finish.
    ///
    /// `secure_delete` overwrites the erased bytes in the page the erasing transaction writes, but the WAL still holds
    /// the older copies of that page (the insert's) until it is checkpointed and rewritten. `wal_checkpoint(TRUNCATE)`
    /// copies every frame into the main file and cuts the WAL to zero bytes. It must wait for every reader to leave
    /// the WAL; it waits at most 100 ms (not the 5 s a writer may wait), so a busy socket never stalls the writer: when
    /// readers keep it from finishing, the attempt is repeated after the next transition and on the pruner's pass.
    func scrubWALIfNeeded(erased: Bool) async {
        guard erased || walScrubPending.isSet else { return }
        let done =
            (try? await writer.writeWithoutTransaction { db -> Bool in
                try db.execute(sql: "PRAGMA busy_timeout = 100")
                defer { try? db.execute(sql: "PRAGMA busy_timeout = \(Int(Self.busyTimeout * 1000))") }
                let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                return (row?[0] as Int?) == 0
            }) ?? false
        walScrubPending.set(!done)
    }

    /// Repeats a WAL scrub that readers kept from finishing (see ``apply(_:to:now:)``); a no-op otherwise. The pruner
    /// calls it on every pass, so the retry does not depend on more jobs coming.
    public func retryPendingWALScrub() async {
        await scrubWALIfNeeded(erased: false)
    }

    /// Whether erased secrets may still sit in the WAL (a scrub is pending).
    package var walScrubIsPending: Bool { walScrubPending.isSet }
}

/// A flag shared by every copy of an ``OpsDatabase``.
final class PendingFlag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool { value.withLock { $0 } }

    func set(_ pending: Bool) { value.withLock { $0 = pending } }
}
