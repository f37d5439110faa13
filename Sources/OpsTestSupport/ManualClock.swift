public import Foundation
public import OpsDaemon
import Synchronization

/// Time that moves only when told. Sleepers wake when `advance` reaches their deadline.
///
/// Test support, not product: the daemon runs on ``SystemClock``; tests and the benchmark pass this one so an hour of
/// Kinsta time passes in milliseconds and no test sleeps to wait for a poll.
public final class ManualClock: DaemonClock {
    private struct Sleeper {
        var deadline: Date
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Date
        var sleepers: [Int: Sleeper] = [:]
        var nextID = 0
        /// Tests waiting for a task to sleep until a deadline (``sleeper(until:)``).
        var watchers: [(deadline: Date, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>

    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        state = Mutex(State(now: start))
    }

    public func now() -> Date { state.withLock { $0.now } }

    /// Moves time forward to `date` (never back) and wakes the sleepers that are due.
    public func advance(to date: Date) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = max(state.now, date)
            let ready = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in ready.keys { state.sleepers.removeValue(forKey: id) }
            return ready.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// Whether a task is sleeping on this clock (tests use it to know a task reached its wait).
    public var hasSleepers: Bool { state.withLock { !$0.sleepers.isEmpty } }

    /// The earliest deadline a task is sleeping until, if any.
    public var earliestSleeper: Date? { state.withLock { $0.sleepers.values.map(\.deadline).min() } }

    /// Returns once a task sleeps on this clock until `deadline` (at once if one does): a test waits for a loop to
    /// reach its wait as an event, not by polling on the wall clock.
    public func sleeper(until deadline: Date) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let sleeping = state.withLock { state -> Bool in
                if state.sleepers.values.contains(where: { $0.deadline == deadline }) { return true }
                state.watchers.append((deadline, continuation))
                return false
            }
            if sleeping { continuation.resume() }
        }
    }

    /// Moves time forward by `seconds`.
    public func advance(by seconds: Double) {
        advance(to: now().addingTimeInterval(seconds))
    }

    public func sleep(until deadline: Date) async throws {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resumeNow, watchers) = state.withLock {
                    state -> (Bool, [CheckedContinuation<Void, Never>]) in
                    if deadline <= state.now || Task.isCancelled { return (true, []) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    let watching = state.watchers.filter { $0.deadline == deadline }.map(\.continuation)
                    state.watchers.removeAll { $0.deadline == deadline }
                    return (false, watching)
                }
                if resumeNow { continuation.resume() }
                for watcher in watchers { watcher.resume() }
            }
            try Task.checkCancellation()
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
