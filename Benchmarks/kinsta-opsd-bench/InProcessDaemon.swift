import CurlHTTP
import Foundation
import KinstaClient
import KinstaSimulator
import Logging
import OpsCore
import OpsDaemon

/// The real daemon (`Daemon`: store, engine, webhooks, the socket server on a real Unix socket) run in this
/// process on the system clock, stopped by cancellation.
struct InProcessDaemon {
    let task: Task<Void, any Error>
    let socketPath: String
    /// Seconds from `run()` to READY (the socket accepts with its mode set).
    let secondsToReady: Double

    static func start(
        stateDirectory: String,
        api: (any KinstaAPI)?,
        kinstaBaseURL: String = "http://127.0.0.1:9/v2/",
        maxInFlight: Int = 8,
        companyID: String = SimulatorConfiguration().companyID
    ) async throws -> InProcessDaemon {
        let socketPath = stateDirectory + "/s.sock"
        var logger = Logger(label: "bench.daemon")
        logger.logLevel = .critical
        let configuration = DaemonConfiguration(
            kinsta: KinstaConfiguration(baseURL: kinstaBaseURL, apiKey: Workload.apiKey, requestTimeout: .seconds(10)),
            companyID: companyID,
            stateDirectory: stateDirectory,
            socketPath: socketPath,
            socketMode: 0o600,
            logLevel: .critical,
            maxInFlight: maxInFlight,
            pollPolicy: PollPolicy(adaptive: AdaptivePolling())
        )
        let (ready, continuation) = AsyncStream<Date>.makeStream()
        let started = Date()
        let daemon = Daemon(
            configuration: configuration,
            api: api,
            signals: [],
            logger: logger,
            onReady: { continuation.yield(Date()) }
        )
        let task = Task { try await daemon.run() }
        var iterator = ready.makeAsyncIterator()
        guard let at = await iterator.next() else { throw BenchError("the daemon never became ready") }
        return InProcessDaemon(task: task, socketPath: socketPath, secondsToReady: at.timeIntervalSince(started))
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// A Kinsta that accepts everything and never finishes, for scenarios that measure the daemon, not Kinsta.
struct IdleKinstaAPI: KinstaAPI {
    func submit(_ call: KinstaCall) async -> SubmitOutcome { .accepted(operationID: "sites:add-\(UUID())") }
    func operationStatus(_ operationID: String) async -> PollOutcome { .inProgress }
    func read(_ path: String) async -> KinstaRead { .ok(.object([:])) }
}

/// HTTP over the daemon's Unix socket.
struct SocketClient {
    let http: CurlHTTPClient
    let socketPath: String

    func get(_ path: String) async throws -> HTTPResponse {
        try await http.execute(
            HTTPRequest(url: "http://localhost" + path, timeout: .seconds(30), unixSocketPath: socketPath)
        )
    }

    func post(_ path: String, json: Data) async throws -> HTTPResponse {
        try await http.execute(
            HTTPRequest(
                method: "POST",
                url: "http://localhost" + path,
                headers: [HTTPHeader("Content-Type", "application/json")],
                body: json,
                timeout: .seconds(30),
                unixSocketPath: socketPath
            )
        )
    }
}
