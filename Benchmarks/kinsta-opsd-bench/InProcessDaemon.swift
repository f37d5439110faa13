import CurlHTTP
import Foundation
import KinstaClient
import KinstaSimulator
import Logging
import OpsCore
import OpsDaemon

extension DaemonConfiguration {
    /// The benchmark's in-process daemon (`InProcessDaemon`, OpsTestSupport): its own key, nothing logged, the
    /// adaptive schedule, the socket owner-only, and optionally a state directory filled beforehand.
    mutating func bench(stateDirectory: String? = nil, maxInFlight: Int = 8) {
        kinsta = KinstaConfiguration(
            baseURL: "http://127.0.0.1:9/v2/",
            apiKey: Workload.apiKey,
            requestTimeout: .seconds(10)
        )
        companyID = SimulatorConfiguration().companyID
        if let stateDirectory { self.stateDirectory = stateDirectory }
        socketMode = 0o600
        logLevel = .critical
        self.maxInFlight = maxInFlight
        pollPolicy = PollPolicy(adaptive: AdaptivePolling())
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
