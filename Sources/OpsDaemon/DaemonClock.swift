public import Foundation

/// The daemon's only source of time. The engine reads `now()` and waits with `sleep(until:)`; tests and benchmarks
/// pass a `ManualClock` (in OpsTestSupport) and move time by hand, so no test sleeps to wait for a poll.
public protocol DaemonClock: Sendable {
    func now() -> Date
    /// Returns at `deadline` (at once if it passed); throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Date) async throws
}

/// Wall-clock time.
public struct SystemClock: DaemonClock {
    public init() {}

    public func now() -> Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let seconds = deadline.timeIntervalSinceNow
        if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up)))) }
    }
}
