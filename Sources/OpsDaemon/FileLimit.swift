import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The open-file limit, and what the socket may take of it.
///
/// Every socket connection holds a file descriptor, and so do Kinsta calls, webhook calls and SQLite. When a flood
/// of clients took them all (1,100 follow streams against the default soft limit of 1,024), the daemon died: what
/// could not open a descriptor failed in libraries that abort on it. So the soft limit is raised to the hard one at
/// start (systemd's default soft limit of 1,024 is for `select()` users; the daemon uses epoll), and the socket's
/// connection cap is kept under it with room to spare. What aborted was libdispatch's worker-pool monitor: while
/// work waits for a thread, it opens `/proc/self/task/<tid>/stat` of each worker once a second, and it crashes the
/// process (SIGILL) when that open fails. So the room must never run out, not even for a moment.
enum FileLimit {
    /// Descriptors kept free of socket connections: the database and its WAL (writer and readers), the lock, the
    /// event loops' epoll and eventfds, libdispatch's, the Kinsta and webhook transfers (`max_concurrent_requests`
    /// and the webhook senders), and refused connections waiting for their 503.
    static let reserve: UInt64 = 64

    struct Limits: Sendable, Equatable {
        var softBefore: UInt64
        var soft: UInt64
        var hard: UInt64
    }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; the limits before and after.
    static func raiseToHard() -> Limits {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return Limits(softBefore: 1024, soft: 1024, hard: 1024)
        }
        let before = UInt64(limit.rlim_cur)
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Limits(softBefore: before, soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max))
    }

    /// Refused connections open at once, on top of the admitted ones: each is answered 503 and closed within
    /// milliseconds (at most `refusedGrace` when it sends nothing). Past `cap + refusedAllowance` open connections
    /// the socket stops accepting, and new clients wait in the kernel's backlog (or, past it, see `connect()`
    /// refused at once) until one closes: no flood can take the descriptors the rest of the daemon needs.
    static let refusedAllowance = 32

    /// The connection cap the socket uses: the configured one, or less when the limit leaves less room for it,
    /// its refused allowance and the reserve.
    static func connectionCap(configured: Int, softLimit: UInt64) -> Int {
        let room = Int(clamping: softLimit) - Int(reserve) - refusedAllowance
        let fallback = Int(clamping: softLimit / 4)
        return max(1, min(configured, room >= fallback ? room : fallback))
    }
}
