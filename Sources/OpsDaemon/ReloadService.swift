import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP: reloads what can change without a restart (the log level, the webhook endpoints and their secrets) from the
/// configuration, keeping the socket and every job as they are, and says in its log line what it applied and which
/// changed keys wait for a restart. A configuration that no longer loads is logged and ignored: the running one stays.
struct ReloadService: Service {
    /// The configuration the daemon started with: keys a reload cannot apply keep these values until a restart.
    let started: DaemonConfiguration
    /// Loads the configuration again and applies what it can; returns what it loaded.
    let reload: @Sendable () throws -> DaemonConfiguration
    let logger: Logger

    /// What SIGHUP applies; any other key takes a restart.
    static let reloadable: Set<String> = ["daemon.log_level", "webhooks", "schedules"]

    /// The keys `fresh` applied (changed since `last`, the last configuration loaded) and the keys that differ from
    /// `started` but wait for a restart, each as `table.key` (`webhooks` for the endpoints), in the schema's order.
    static func report(
        started: DaemonConfiguration,
        last: DaemonConfiguration,
        fresh: DaemonConfiguration
    ) -> (applied: [String], needsRestart: [String]) {
        (
            last.changedKeys(to: fresh).filter(reloadable.contains),
            started.changedKeys(to: fresh).filter { !reloadable.contains($0) }
        )
    }

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            var last = started
            for await _ in hangups {
                do {
                    let fresh = try reload()
                    StderrLogHandler.level.set(fresh.logLevel)
                    let (applied, needsRestart) = Self.report(started: started, last: last, fresh: fresh)
                    last = fresh
                    logger.notice(
                        "configuration reloaded",
                        metadata: [
                            "applied": "\(applied.isEmpty ? "nothing changed" : applied.joined(separator: ", "))",
                            "needs_restart": "\(needsRestart.isEmpty ? "-" : needsRestart.joined(separator: ", "))",
                            "log_level": "\(fresh.logLevel.rawValue)",
                        ]
                    )
                } catch {
                    logger.error(
                        "configuration reload failed; keeping the running one",
                        metadata: ["error": "\(error)"]
                    )
                }
            }
        }
    }
}
