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
        case .success(let answer):
            return KinstaAnswer.submitOutcome(
                status: answer.status,
                json: answer.json,
                retryAfter: answer.retryAfter
            )
        }
    }

    public func operationStatus(_ operationID: String) async -> PollOutcome {
        let path = OperationID.pollPath(operationID)
        switch await send("GET", path, body: nil) {
        case .failure(let error):
            return .transient(reason: KinstaAnswer.describe(error))
        case .success(let answer):
            return KinstaAnswer.pollOutcome(
                status: answer.status,
                json: answer.json,
                retryAfter: answer.retryAfter
            )
        }
    }

    public func read(_ path: String) async -> KinstaRead {
        switch await send("GET", path, body: nil) {
        case .failure(let error):
            return .failure(KinstaReadFailure(status: nil, message: KinstaAnswer.describe(error), isTransient: true))
        case .success(let answer):
            return KinstaAnswer.read(
                status: answer.status,
                json: answer.json,
                retryAfter: answer.retryAfter
            )
        }
    }

    /// An answer of Kinsta's as the mapping reads it: its body parsed once, every secret masked out of it.
    struct Answer {
        var status: Int
        /// The body as JSON, masked (``HTTPKinstaAPI/maskedJSON(_:by:)``); `nil` when it is not JSON.
        var json: JSONValue?
        var retryAfter: String?
    }

    /// One exchange. Logs method, path and status at debug; never the body or the key.
    private func send(_ method: String, _ path: String, body: Data?) async -> Result<Answer, any Error> {
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
            let response = try await http.execute(request)
            // Before anything reads it: an answer that echoes the request (the Authorization header, the body with
            // admin_password) must not carry a secret into messages, events, the read-through or the logs.
            let answer = Answer(
                status: response.status,
                json: Self.maskedJSON(response.body, by: secrets.mask.adding([configuration.apiKey])),
                retryAfter: response.header("Retry-After")
            )
            logger.debug(
                "kinsta answered",
                metadata: [
                    "http.method": "\(method)", "http.path": "\(path)",
                    "http.status": "\(response.status)",
                ]
            )
            return .success(answer)
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

    /// `body` parsed once (``KinstaAnswer/parse(_:)``), with every secret masked: in the text first (the raw value
    /// and its JSON-escaped and percent-encoded forms), then in every string and member name of the parsed value (an
    /// echo may escape characters differently). A body that is not JSON is `nil`: nothing of it is read as Kinsta's
    /// answer. One that is not UTF-8 is parsed only if it holds none of the secrets' bytes.
    static func maskedJSON(_ body: Data, by mask: SecretMask) -> JSONValue? {
        guard !mask.isEmpty, !body.isEmpty else { return KinstaAnswer.parse(body) }
        guard let text = String(data: body, encoding: .utf8) else {
            let bytes = [UInt8](body)
            let holds = mask.needles.contains { needle in
                let pattern = Array(needle.utf8)
                return bytes.count >= pattern.count
                    && (0...(bytes.count - pattern.count)).contains {
                        bytes[$0..<($0 + pattern.count)].elementsEqual(pattern)
                    }
            }
            return holds ? nil : KinstaAnswer.parse(body)
        }
        return KinstaAnswer.parse(Data(mask.mask(text).utf8)).map(mask.mask)
    }
}
