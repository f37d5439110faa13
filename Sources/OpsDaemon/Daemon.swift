import CurlHTTP
import Foundation
import Hummingbird
import HummingbirdCore
public import KinstaClient
public import Logging
import OpsCore
import OpsServer
import OpsStore
public import OpsWebhooks
import ServiceLifecycle
public import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// The composition root: builds the database, the Kinsta client, the engine and the socket server from a
/// configuration and runs them as one `ServiceGroup` until SIGTERM (or cancellation).
///
/// Service order is `[group commit, poller, …, socket server, …]`: shutdown runs in reverse, so the socket stops
/// taking requests first, then the poller lets its calls under way finish and commits them, and the store's group
/// commit writes what is still queued last.
public struct Daemon: Sendable {
    public let configuration: DaemonConfiguration
    let clock: any DaemonClock
    let api: (any KinstaAPI)?
    let signals: [UnixSignal]
    let logger: Logger
    let onReady: @Sendable () async -> Void
    /// The daemon's metrics; the executable also hands its registry to swift-metrics.
    public let metrics: DaemonMetrics
    /// Loads the configuration again on SIGHUP; `nil` leaves SIGHUP alone.
    public var reload: (@Sendable () throws -> DaemonConfiguration)?
    /// Sends webhook deliveries; `nil` for HTTP.
    public var webhookSender: (any WebhookSender)?

    /// - Parameters:
    ///   - api: the Kinsta API to use; `nil` for HTTP to `configuration.kinsta.baseURL`.
    ///   - signals: the signals that start a graceful shutdown (none in in-process tests: cancel the task instead).
    ///   - onReady: called once the socket accepts connections with its mode set (after READY=1).
    public init(
        configuration: DaemonConfiguration,
        clock: any DaemonClock = SystemClock(),
        api: (any KinstaAPI)? = nil,
        signals: [UnixSignal] = [.sigterm, .sigint],
        logger: Logger,
        onReady: @escaping @Sendable () async -> Void = {},
        metrics: DaemonMetrics = DaemonMetrics()
    ) {
        self.onReady = onReady
        self.metrics = metrics
        self.configuration = configuration
        self.clock = clock
        self.api = api
        self.signals = signals
        self.logger = logger
    }

    /// Runs until a shutdown signal or cancellation. Throws ``DaemonError`` when it cannot start.
    public func run() async throws {
        let configuration = self.configuration
        let logger = self.logger
        for warning in configuration.warnings {
            logger.warning("configuration warning", metadata: ["warning": "\(warning)"])
        }
        let files = FileLimit.raiseToHard()
        let maxConnections = FileLimit.connectionCap(configured: configuration.maxConnections, softLimit: files.soft)
        try StateDirectory.prepare(configuration.stateDirectory)
        let lock = try StateLock(path: configuration.lockPath)
        defer { lock.release() }
        // The socket path is looked at first: a refusal there leaves the database unopened.
        let placement = try SocketPlacement.prepare(configuration.socketPath)
        defer { placement.remove() }
        let database = try Self.openDatabase(configuration)
        // Logged once the checks passed, so a refusal to start stays one line.
        logger.info(
            "open-file limit",
            metadata: [
                "nofile.soft_before": "\(files.softBefore)", "nofile.soft": "\(files.soft)",
                "nofile.hard": "\(files.hard)",
                "socket.max_connections": "\(maxConnections)",
            ]
        )
        if maxConnections < configuration.maxConnections {
            logger.warning(
                "max_connections lowered to fit the open-file limit",
                metadata: [
                    "configured": "\(configuration.maxConnections)", "used": "\(maxConnections)",
                    "nofile.soft": "\(files.soft)", "nofile.reserve": "\(FileLimit.reserve)",
                ]
            )
        }
        let startFailure = StartFailure()
        let memoryRelease = IdleMemoryRelease(database: database)
        let connections = ConnectionLimiter(maximum: maxConnections, onIdle: { memoryRelease.connectionsFellToZero() })
        let webhooks = WebhookRegistry(configuration.webhooks)
        database.setDeliveryPlanner(webhooks.deliveryPlanner())
        database.setParamDefaults(configuration.paramDefaults)
        // Every secret the daemon knows, masked out of whatever Kinsta answers before it is stored or relayed.
        let secrets = SecretRegistry(fixed: [configuration.kinsta.apiKey])
        secrets.setConfigured(Self.configuredSecrets(configuration.webhooks))
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let metrics = self.metrics
        let budget = RequestBudget(
            ratePerMinute: configuration.requestsPerMinute,
            burst: configuration.requestBurst,
            clock: clock
        )
        let kinsta = InstrumentedKinstaAPI(
            wrapped: self.api
                ?? HTTPKinstaAPI(configuration: configuration.kinsta, http: http, logger: logger, secrets: secrets),
            metrics: metrics,
            clock: clock
        )
        // The engine takes each call's token itself (a submit's before its sending mark); the read-through routes go
        // through the same budget.
        let api = BudgetedKinstaAPI(wrapped: kinsta, budget: budget)
        let environments = EnvironmentDirectory()
        let regions = RegionCatalog(company: configuration.companyID, clock: clock)
        let keyWatch = APIKeyWatch()
        let engine = JobEngine(
            database: database,
            api: kinsta,
            policy: configuration.pollPolicy,
            clock: clock,
            logger: logger,
            maxInFlight: configuration.maxInFlight,
            maxConcurrentRequests: configuration.maxConcurrentRequests,
            metrics: metrics,
            budget: budget,
            secrets: secrets,
            company: configuration.companyID,
            environments: environments
        )
        let clock = self.clock
        let scheduler = Scheduler(
            database: database,
            clock: clock,
            logger: logger,
            schedules: configuration.schedules
        )
        let socketAPI = SocketAPI(
            database: database,
            machine: JobMachine(policy: configuration.pollPolicy),
            defaultCompany: configuration.companyID,
            version: OpsVersion.current,
            startedAt: clock.now(),
            now: { clock.now() },
            healthExtras: {
                var extras: [String: JSONValue] = [
                    "request_budget": .object(budget.snapshot),
                    "api_key": keyWatch.health(now: clock.now()),
                    "socket": .object([
                        "connections": .integer(Int64(connections.connections)),
                        "max_connections": .integer(Int64(connections.maximum)),
                        "refused": .integer(Int64(connections.refused)),
                    ]),
                ]
                if let last = metrics.lastKinstaAnswer {
                    extras["last_kinsta_answer"] = .object([
                        "at": .string(last.at.formatted(.iso8601)), "summary": .string(last.summary),
                    ])
                } else {
                    extras["last_kinsta_answer"] = .null
                }
                return extras
            },
            kinsta: api,
            metricsText: { await metrics.render(database: database) },
            access: PeerAccess(uids: configuration.allowedUIDs, gids: configuration.allowedGroups),
            webhookNames: { webhooks.endpoints.map(\.name) },
            paramDefaults: configuration.paramDefaults,
            knownRegions: { await regions.known(for: $0) },
            usualDuration: { engine.usualDuration(of: $0) },
            heldKinds: configuration.approvalKinds,
            distinctApprover: configuration.distinctApprover,
            schedules: { try await scheduler.views() },
            logger: logger
        )
        let socketPath = configuration.socketPath
        let notifier = SystemdNotifier()
        let onReady = self.onReady
        let app = Application(
            router: socketAPI.buildRouter(),
            // A client that opens a connection and then sends nothing (or a request head that never ends) is
            // dropped after the idle timeout; a follow stream, whose request was read, is not idle. A connection
            // over the cap is answered 503 and closed before anything else sees it.
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [
                        connections.handler(), MalformedRequestHandler(), PeerCredentials.shared.handler(),
                    ],
                    idleTimeout: .milliseconds(Int64(configuration.clientIdleTimeout * 1000))
                )
            ),
            // Admitted plus refused connections open at once stay under the open-file limit: past that, the
            // socket stops accepting until one closes (Hummingbird's connection gate on the listening channel).
            configuration: .init(
                address: .unixDomainSocket(path: placement.bindPath),
                serverName: nil,
                availableConnectionsDelegate: MaximumAvailableConnections(
                    maxConnections + FileLimit.refusedAllowance,
                    logger: logger
                )
            ),
            onServerRunning: { _ in
                do {
                    try placement.publish(mode: configuration.socketMode, group: configuration.socketGroup)
                    logger.info("listening", metadata: ["socket": "\(socketPath)", "database": "\(database.path)"])
                    // Ready only now: the database is open, migrations ran, and the socket is at its path with its mode.
                    notifier.notify("READY=1\nSTATUS=listening on \(socketPath)")
                    await onReady()
                } catch {
                    startFailure.fail(error)
                }
            },
            logger: logger
        )
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                // First, so the last to stop: it commits the submissions still queued once the socket stopped.
                .init(service: database.groupCommit),
                .init(
                    service: PollerService(
                        engine: engine,
                        idleWake: 60,
                        heartbeat: SystemdHeartbeat(notifier: notifier)
                    )
                ),
                .init(
                    service: EnvironmentDirectoryService(
                        directory: environments,
                        api: api,
                        company: configuration.companyID,
                        clock: clock,
                        logger: logger
                    )
                ),
                .init(service: RegionService(catalog: regions, api: api, logger: logger)),
                .init(service: ScheduleService(scheduler: scheduler)),
                .init(service: APIKeyCheckService(watch: keyWatch, api: api, clock: clock, logger: logger)),
                .init(
                    service: WebhookDispatcher(
                        database: database,
                        registry: webhooks,
                        sender: webhookSender ?? HTTPWebhookSender(http: http, now: { clock.now() }),
                        clock: clock,
                        logger: logger,
                        metrics: metrics
                    )
                ),
                .init(
                    service: PrunerService(
                        database: database,
                        clock: clock,
                        retentionDays: configuration.retentionDays,
                        logger: logger
                    )
                ),
                .init(service: app),
                .init(service: StoppingNotice(notifier: notifier, logger: logger)),
                .init(service: startFailure, failureTerminationBehavior: .gracefullyShutdownGroup),
            ]
                + (reload.map { reload in
                    [
                        .init(
                            service: ReloadService(
                                started: configuration,
                                reload: {
                                    let fresh = try reload()
                                    webhooks.replace(fresh.webhooks)
                                    scheduler.replace(fresh.schedules)
                                    secrets.setConfigured(Self.configuredSecrets(fresh.webhooks))
                                    return fresh
                                },
                                logger: logger
                            )
                        )
                    ]
                } ?? []),
            gracefulShutdownSignals: signals,
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("stopped")
    }
}

extension Daemon {
    /// The configured secrets: each webhook's signing secret, its extra header values (a receiver's own
    /// `Authorization`) and a Slack endpoint's URL, which is its secret.
    static func configuredSecrets(_ endpoints: [WebhookEndpoint]) -> [String] {
        endpoints.flatMap { endpoint -> [String] in
            var values = Array(endpoint.headers.values)
            if let secret = endpoint.secret { values.append(secret.text) }
            if endpoint.format == .slack { values.append(endpoint.url) }
            return values
        }
    }

    /// Opens the database, turning every refusal into one ``DaemonError`` line that names the file.
    static func openDatabase(_ configuration: DaemonConfiguration) throws -> OpsDatabase {
        do {
            return try OpsDatabase(
                path: configuration.databasePath,
                durationHistory: configuration.pollPolicy.adaptive.history
            )
        } catch let refusal as DatabaseRefusal {
            throw DaemonError(refusal.message)
        } catch {
            throw DaemonError("cannot open the database \(configuration.databasePath): \(error)")
        }
    }
}

/// Last in the group, so first to hear of a graceful shutdown: tells systemd (`STOPPING=1`) and the log.
struct StoppingNotice: Service {
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        notifier.notify("STOPPING=1")
        logger.info("stopping: no new requests; letting calls under way finish")
    }
}

/// Why the daemon could not start.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The state directory: created 0750 when missing.
enum StateDirectory {
    static func prepare(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw DaemonError("state directory \(path) is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o750]
            )
        } catch {
            throw DaemonError("cannot create the state directory \(path): \(error.localizedDescription)")
        }
    }
}

/// An exclusive `flock` on a file in the state directory: a second daemon on the same state refuses to start.
final class StateLock: Sendable {
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DaemonError("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw DaemonError("another kinsta-opsd is running on this state directory (\(path) is locked)")
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
