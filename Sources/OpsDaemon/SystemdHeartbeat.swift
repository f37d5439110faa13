import Foundation
import OpsCore
import OpsStore
import Synchronization

/// What the poller's loop tells systemd on each turn: `WATCHDOG=1` every half of `$WATCHDOG_USEC` (sent from the
/// loop itself, so a wedged loop stops the pings and systemd restarts the daemon), and a `STATUS=` line with the
/// counts, when it changed, at most every 5 s.
final class SystemdHeartbeat: Sendable {
    let notifier: SystemdNotifier
    /// Half the watchdog interval, in seconds; `nil` without a watchdog.
    let pingInterval: Double?
    private let state = Mutex<(lastPing: Date?, lastStatusAt: Date?, lastStatus: String)>((nil, nil, ""))

    init(notifier: SystemdNotifier, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.notifier = notifier
        // Like sd_watchdog_enabled: honour WATCHDOG_PID when set, so a child does not ping for its parent.
        let forUs = environment["WATCHDOG_PID"].map { $0 == String(getpid()) } ?? true
        if forUs, let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0 {
            pingInterval = usec / 2_000_000
        } else {
            pingInterval = nil
        }
    }

    /// The longest the loop may sleep so the pings keep their pace.
    var maximumSleep: Double? { pingInterval }

    /// Called on every turn of the poller's loop.
    func beat(now: Date, database: OpsDatabase) async {
        if let pingInterval {
            let due = state.withLock { state -> Bool in
                guard let last = state.lastPing, now.timeIntervalSince(last) < pingInterval * 0.9 else {
                    state.lastPing = now
                    return true
                }
                return false
            }
            if due { notifier.notify("WATCHDOG=1") }
        }
        guard notifier.socketPath != nil else { return }
        let outage = database.storage.outage
        let statusDue = state.withLock { state in
            // An outage's start is told at once; otherwise at most every 5 s.
            (outage != nil && !state.lastStatus.hasPrefix("storage unavailable"))
                || (state.lastStatusAt.map { now.timeIntervalSince($0) >= 5 } ?? true)
        }
        guard statusDue else { return }
        let status: String
        if let outage {
            status = Self.outageStatus(outage, now: now)
        } else {
            guard let counts = try? await database.stateCounts() else { return }
            let inFlight = JobState.allCases.filter(\.isInFlight).map { counts[$0] ?? 0 }.reduce(0, +)
            var text = "\(inFlight) in flight, \(counts[.queued] ?? 0) queued"
            if let oldest = try? await database.oldestQueuedSince() {
                text += ", oldest pending \(DurationText.format(now.timeIntervalSince(oldest)))"
            }
            status = text
        }
        let changed = state.withLock { state -> Bool in
            state.lastStatusAt = now
            defer { state.lastStatus = status }
            return state.lastStatus != status
        }
        if changed { notifier.notify("STATUS=\(status)") }
    }

    /// `STATUS=` while commits fail: what, since when, and that the daemon holds off until it can record again.
    static func outageStatus(_ outage: StorageHealth.Outage, now: Date) -> String {
        "storage unavailable for \(DurationText.format(now.timeIntervalSince(outage.since))): \(outage.reason); "
            + "nothing is sent to Kinsta until writes go through again"
    }
}
