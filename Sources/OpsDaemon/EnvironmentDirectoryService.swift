import Foundation
public import KinstaClient
public import Logging
public import ServiceLifecycle

/// Keeps the ``EnvironmentDirectory`` fresh: reads the company's sites with their environments when the engine met an
/// environment it does not know (at most once per `spacing`). Reads go through the request budget like every other
/// call, and a daemon whose jobs name no environment never makes one.
public struct EnvironmentDirectoryService: Service {
    let directory: EnvironmentDirectory
    let api: any KinstaAPI
    let company: String?
    let clock: any DaemonClock
    let spacing: Double
    let logger: Logger

    public init(
        directory: EnvironmentDirectory,
        api: any KinstaAPI,
        company: String?,
        clock: any DaemonClock,
        spacing: Double = 60,
        logger: Logger
    ) {
        self.directory = directory
        self.api = api
        self.company = company
        self.clock = clock
        self.spacing = spacing
        self.logger = logger
    }

    public func run() async throws {
        guard let company, !company.isEmpty else {
            // No company: only what jobs say is known. A service that returned would end the group: wait for the end.
            try? await gracefulShutdown()
            return
        }
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    if directory.refreshDue(now: clock.now(), spacing: spacing) {
                        await refreshOnce(company: company)
                    }
                    try await clock.sleep(until: clock.now().addingTimeInterval(1))
                }
            }
        } catch is CancellationError {
            // Shutdown interrupted the sleep.
        }
    }

    /// One read of the company's sites; what failed is logged and tried again after `spacing`.
    func refreshOnce(company: String) async {
        switch await api.environmentSites(ofCompany: company) {
        case .found(let map):
            directory.replace(with: map, at: clock.now())
            logger.debug("environments read", metadata: ["environments": "\(map.count)"])
        case .notFound(let message):
            directory.noteFailedRefresh(at: clock.now())
            logger.warning("could not read the company's environments", metadata: ["reason": "\(message)"])
        case .unreadable(let reason):
            directory.noteFailedRefresh(at: clock.now())
            logger.warning("could not read the company's environments", metadata: ["reason": "\(reason)"])
        case .failure(let failure):
            directory.noteFailedRefresh(at: clock.now())
            logger.warning("could not read the company's environments", metadata: ["reason": "\(failure)"])
        }
    }
}
