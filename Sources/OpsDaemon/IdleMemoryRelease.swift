import CMalloc
import OpsStore
import Synchronization

/// Gives memory back once the socket's last client has left.
///
/// 500 follow streams took the daemon from 51 to 176 MB of RSS, and it stayed at 175 MB once they had left: glibc
/// keeps what its arenas freed, and the database pool keeps the reader connections the burst opened. So when the
/// connection count falls to zero, the daemon waits ``delay`` (the departed connections' tasks finish unwinding after
/// their channels close, and their memory is only free then), closes idle database readers, and calls
/// `malloc_trim(0)`, which hands every arena's free pages back. At most one release runs per ``delay``.
final class IdleMemoryRelease: Sendable {
    static let delay = Duration.seconds(2)
    private let database: OpsDatabase
    private let scheduled = Atomic<Bool>(false)

    init(database: OpsDatabase) { self.database = database }

    /// Called by the connection limiter (on an event loop) whenever the count falls to zero.
    func connectionsFellToZero() {
        guard scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        let database = self.database
        Task.detached(priority: .background) { [self] in
            try? await Task.sleep(for: Self.delay)
            database.releaseMemoryEventually()
            // The readers close on their own queues; give them a moment before the trim.
            try? await Task.sleep(for: .milliseconds(200))
            _ = malloc_trim(0)
            scheduled.store(false, ordering: .releasing)
        }
    }
}
