public import CurlHTTP
import Foundation
public import Logging
public import OpsCore

/// ``KinstaAPI`` over HTTP (libcurl): builds requests, maps every answer to an outcome value.
public struct HTTPKinstaAPI: KinstaAPI {
    private let configuration: KinstaConfiguration
    private let http: CurlHTTPClient
    private let logger: Logger
    /// The secrets the daemon knows (the key, webhook secrets, jobs' secret parameters): masked out of every answer.
    private let secrets: SecretRegistry

    /// - Parameter secrets: what to mask out of Kinsta's answers; the API key is always among them.
    public init(
        configuration: KinstaConfiguration,
        http: CurlHTTPClient,
        logger: Logger,
        secrets: SecretRegistry? = nil
    ) {
        self.configuration = configuration
        self.http = http
        self.logger = logger
        self.secrets = secrets ?? SecretRegistry(fixed: [configuration.apiKey])
    }

    public func submit(_ call: KinstaCall) async -> SubmitOutcome {
        let body = call.body.map { KinstaAnswer.encode(.object($0)) }
        switch await send(call.method, call.path, body: body) {
        case .failure(let error):
            return KinstaAnswer.submitOutcome(transportError: error)
        case .success(let response):
            return KinstaAnswer.submitOutcome(
                status: response.status,
                body: response.body,
                retryAfter: response.header("Retry-After")
            )
        }
    }

    public func operationStatus(_ operationID: String) async -> PollOutcome {
        let path = OperationID.pollPath(operationID)
        switch await send("GET", path, body: nil) {
        case .failure(let error):
            return .transient(reason: KinstaAnswer.describe(error))
        case .success(let response):
            return KinstaAnswer.pollOutcome(
                status: response.status,
                body: response.body,
                retryAfter: response.header("Retry-After")
            )
        }
    }

    public func read(_ path: String) async -> KinstaRead {
        switch await send("GET", path, body: nil) {
        case .failure(let error):
            return .failure(KinstaReadFailure(status: nil, message: KinstaAnswer.describe(error), isTransient: true))
        case .success(let response):
            return KinstaAnswer.read(
                status: response.status,
                body: response.body,
                retryAfter: response.header("Retry-After")
            )
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
            method: method,
            url: configuration.baseURL + path,
            headers: headers,
            body: body,
            timeout: configuration.requestTimeout,
            caFile: configuration.caFile
        )
        do {
            var response = try await http.execute(request)
            // Before anything reads it: an answer that echoes the request (the Authorization header, the body with
            // admin_password) must not carry a secret into messages, events, the read-through or the logs.
            response.body = Self.masked(response.body, by: secrets.mask.adding([configuration.apiKey]))
            logger.debug(
                "kinsta answered",
                metadata: [
                    "http.method": "\(method)", "http.path": "\(path)",
                    "http.status": "\(response.status)",
                ]
            )
            return .success(response)
        } catch {
            logger.debug(
                "kinsta request failed",
                metadata: [
                    "http.method": "\(method)", "http.path": "\(path)",
                    "error": "\(KinstaAnswer.describe(error))",
                ]
            )
            return .failure(error)
        }
    }

    /// `body` with every secret replaced: as text first (the raw value and its JSON-escaped and percent-encoded
    /// forms), then, when it is JSON, every string of the parsed value too (an echo may escape characters
    /// differently), written back as JSON. A body that is neither UTF-8 nor JSON is passed on only if it holds none
    /// of the secrets' bytes; otherwise it is dropped (nothing of it is read as Kinsta's answer then).
    static func masked(_ body: Data, by mask: SecretMask) -> Data {
        guard !mask.isEmpty, !body.isEmpty else { return body }
        guard let text = String(data: body, encoding: .utf8) else {
            let bytes = [UInt8](body)
            let holds = mask.needles.contains { needle in
                let pattern = Array(needle.utf8)
                return bytes.count >= pattern.count
                    && (0...(bytes.count - pattern.count)).contains {
                        bytes[$0..<($0 + pattern.count)].elementsEqual(pattern)
                    }
            }
            return holds ? Data() : body
        }
        let once = mask.mask(text)
        if let json = try? StrictJSON.parse(Array(once.utf8)) {
            let deep = mask.mask(json)
            if deep != json { return KinstaAnswer.encode(deep) }
        }
        return once == text ? body : Data(once.utf8)
    }
}
