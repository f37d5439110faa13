public import Foundation
public import OpsDaemon
import Synchronization

extension JobEngine {
    /// Runs every action due up to `end`, moving the manual clock from one due time to the next: an hour of Kinsta
    /// time passes in as long as the calls take.
    ///
    /// A call that must wait on the clock (a request budget paused by a 429, a read inside an action that finds the
    /// budget empty) would wait for ever, since only this loop moves the clock; a watcher moves the clock to the
    /// earliest such wait whenever one appears. A wait that ends after `end` is reached too, once it has held for two
    /// looks in a row while actions run: the action cannot finish before it, so the run ends a little after `end`
    /// rather than never. The clock must carry only the engine's waits (no other service sleeping on it). The
    /// watcher polls every 20 ms of wall time, which is why this driver lives in test support and not in the
    /// product: the daemon's own loop (`PollerService`) sleeps on its clock until the next due time instead.
    public func run(until end: Date, on clock: ManualClock) async throws {
        let acting = ActingFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var blockedOn: Date?
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(20))
                    guard let wake = clock.earliestSleeper else {
                        blockedOn = nil
                        continue
                    }
                    if wake <= end {
                        clock.advance(to: wake)
                    } else if acting.value.withLock({ $0 }), blockedOn == wake {
                        clock.advance(to: wake)
                    } else {
                        blockedOn = wake
                    }
                }
            }
            defer { group.cancelAll() }
            while true {
                acting.value.withLock { $0 = true }
                while try await runDue() > 0 {}
                acting.value.withLock { $0 = false }
                guard let next = try await nextWake(), next <= end else { break }
                clock.advance(to: max(next, clock.now()))
            }
            clock.advance(to: end)
        }
    }
}

/// Whether the driver is inside `runDue` (shared with its clock watcher).
private final class ActingFlag: Sendable {
    let value = Mutex(false)
}
