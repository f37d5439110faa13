import Foundation
public import KinstaClient
public import Logging
public import OpsDaemon

/// The real daemon (`Daemon`: store, engine, webhooks, the socket server on a real Unix socket) run in this process,
/// for tests and the benchmark that talk to it over its socket. One harness, so every such test starts, waits for and
/// stops the daemon the same way: in a task, ready once `onReady` fired (the socket accepts with its mode set), stopped
/// by cancellation (no signals are handled in process).
public struct InProcessDaemon: Sendable {
    public let configuration: DaemonConfiguration
    /// Seconds from `run()` to READY.
    public let secondsToReady: Double
    /// The fresh directory holding the socket (and, unless configured otherwise, the state directory), removed on
    /// ``stop()``.
    public let directory: String
    let task: Task<Void, any Error>

    public var socketPath: String { configuration.socketPath }

    /// What a test daemon runs with unless `configure` says otherwise: Kinsta at a port nothing listens on (tests
    /// pass `api`), key `k`, company `company-1`, state in `<directory>/state`, the socket at `<directory>/s.sock`.
    public static func configuration(in directory: String) -> DaemonConfiguration {
        DaemonConfiguration(
            kinsta: KinstaConfiguration(baseURL: "http://127.0.0.1:1/v2", apiKey: "k"),
            companyID: "company-1",
            stateDirectory: directory + "/state",
            socketPath: directory + "/s.sock"
        )
    }

    /// Starts a daemon and returns once it is ready.
    /// - Parameters:
    ///   - clock: `ManualClock()` for tests that must see nothing happen on its own; the system clock to measure.
    ///   - api: a scripted Kinsta; `nil` for HTTP to `configuration.kinsta.baseURL` (the simulator's).
    ///   - configure: changes to ``configuration(in:)``.
    public static func start(
        clock: any DaemonClock = SystemClock(),
        api: (any KinstaAPI)?,
        logger: Logger = .quiet,
        configure: (inout DaemonConfiguration) -> Void = { _ in }
    ) async throws -> InProcessDaemon {
        let directory = try TemporaryDirectory.make("ko-d")
        var configuration = configuration(in: directory)
        configure(&configuration)
        let (ready, continuation) = AsyncStream<Date>.makeStream()
        let started = Date()
        let daemon = Daemon(
            configuration: configuration,
            clock: clock,
            api: api,
            signals: [],
            logger: logger,
            onReady: { continuation.yield(Date()) }
        )
        let task = Task {
            // A daemon that cannot start ends the wait below instead of leaving it hanging.
            defer { continuation.finish() }
            try await daemon.run()
        }
        var iterator = ready.makeAsyncIterator()
        guard let at = await iterator.next() else {
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try await task.value
            throw DaemonError("the in-process daemon returned before it was ready")
        }
        return InProcessDaemon(
            configuration: configuration,
            secondsToReady: at.timeIntervalSince(started),
            directory: directory,
            task: task
        )
    }

    /// Cancels the daemon (its graceful shutdown), waits for it to end, and removes its directory.
    public func stop() async {
        task.cancel()
        _ = try? await task.value
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` against a daemon started as ``start(clock:api:logger:configure:)`` does, and stops it afterwards,
    /// also when `body` throws.
    public static func with<T>(
        clock: any DaemonClock = SystemClock(),
        api: (any KinstaAPI)?,
        logger: Logger = .quiet,
        configure: (inout DaemonConfiguration) -> Void = { _ in },
        _ body: (InProcessDaemon) async throws -> T
    ) async throws -> T {
        let daemon = try await start(clock: clock, api: api, logger: logger, configure: configure)
        do {
            let result = try await body(daemon)
            await daemon.stop()
            return result
        } catch {
            await daemon.stop()
            throw error
        }
    }
}

extension Logger {
    /// For in-process daemons in tests and the benchmark: only what is critical.
    public static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }
}
