public import CurlHTTP
import Foundation
public import Logging
public import OpsCore

/// ``KinstaAPI`` over HTTP (libcurl): builds requests, maps every answer to an outcome value.
public struct HTTPKinstaAPI: KinstaAPI {
    private let configuration: KinstaConfiguration
    private let http: CurlHTTPClient
    private let logger: Logger

    public init(configuration: KinstaConfiguration, http: CurlHTTPClient, logger: Logger) {
        self.configuration = configuration
        self.http = http
        self.logger = logger
    }

    public func submit(_ call: KinstaCall) async -> SubmitOutcome {
        let body = call.body.map { KinstaAnswer.encode(.object($0)) }
        switch await send(call.method, call.path, body: body) {
        case .failure(let error):
            return KinstaAnswer.submitOutcome(transportError: error)
        case .success(let response):
            return KinstaAnswer.submitOutcome(status: response.status, body: response.body,
                retryAfter: response.header("Retry-After"))
        }
    }

    public func operationStatus(_ operationID: String) async -> PollOutcome {
        let path = OperationID.pollPath(operationID)
        switch await send("GET", path, body: nil) {
        case .failure(let error):
            return .transient(reason: KinstaAnswer.describe(error))
        case .success(let response):
            return KinstaAnswer.pollOutcome(status: response.status, body: response.body,
                retryAfter: response.header("Retry-After"))
        }
    }

    public func read(_ path: String) async -> KinstaRead {
        switch await send("GET", path, body: nil) {
        case .failure(let error):
            return .failure(KinstaReadFailure(status: nil, message: KinstaAnswer.describe(error), isTransient: true))
        case .success(let response):
            return KinstaAnswer.read(status: response.status, body: response.body,
                retryAfter: response.header("Retry-After"))
        }
    }

    /// One exchange. Logs method, path and status at debug; never the body or the key.
    private func send(_ method: String, _ path: String, body: Data?) async -> Result<HTTPResponse, any Error> {
        var headers = [
            HTTPHeader("Authorization", "Bearer \(configuration.apiKey)"),
            HTTPHeader("Accept", "application/json"),
            HTTPHeader("User-Agent", configuration.userAgent),
        ]
        if body != nil { headers.append(HTTPHeader("Content-Type", "application/json")) }
        let request = HTTPRequest(
            method: method, url: configuration.baseURL + path, headers: headers, body: body,
            timeout: configuration.requestTimeout, caFile: configuration.caFile)
        do {
            let response = try await http.execute(request)
            logger.debug("kinsta answered", metadata: ["http.method": "\(method)", "http.path": "\(path)",
                "http.status": "\(response.status)"])
            return .success(response)
        } catch {
            logger.debug("kinsta request failed", metadata: ["http.method": "\(method)", "http.path": "\(path)",
                "error": "\(KinstaAnswer.describe(error))"])
            return .failure(error)
        }
    }
}
