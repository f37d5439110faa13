public import Foundation
public import OpsDaemon

extension JobEngine {
    /// Runs every action due up to `end`, moving the manual clock from one due time to the next: an hour of Kinsta
    /// time passes in as long as the calls take.
    ///
    /// A call that must wait on the clock (a request budget paused by a 429) would wait for ever, since only this
    /// loop moves the clock; a watcher moves the clock to the earliest such wait whenever one appears. That watcher
    /// polls every 20 ms of wall time, which is why this driver lives in test support and not in the product: the
    /// daemon's own loop (`PollerService`) sleeps on its clock until the next due time instead.
    public func run(until end: Date, on clock: ManualClock) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(20))
                    if let wake = clock.earliestSleeper, wake <= end { clock.advance(to: wake) }
                }
            }
            defer { group.cancelAll() }
            while true {
                while try await runDue() > 0 {}
                guard let next = try await nextWake(), next <= end else { break }
                clock.advance(to: max(next, clock.now()))
            }
            clock.advance(to: end)
        }
    }
}
