import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP: reloads what can change without a restart (the log level) from the configuration, keeping the socket and
/// every job as they are. A configuration that no longer loads is logged and ignored: the running one stays.
struct ReloadService: Service {
    let reload: @Sendable () throws -> Logger.Level
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                do {
                    let level = try reload()
                    StderrLogHandler.level.set(level)
                    logger.notice("configuration reloaded", metadata: ["log_level": "\(level.rawValue)"])
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
