/// Why an exchange produced no response. A struct around a private code (statuses are not errors: a 500 is a
/// response). `description` never holds the URL's query, a header or a body.
public struct HTTPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case timedOut, couldNotConnect, couldNotResolveHost, tlsFailure, connectionReset, responseTooLarge
        case invalidRequest, cancelled, other
    }

    private let code: Code
    /// libcurl's result code, when libcurl reported the error.
    public let curlCode: Int32?
    /// libcurl's own words (its error buffer), when it gave some.
    public let detail: String?

    private init(_ code: Code, curlCode: Int32? = nil, detail: String? = nil) {
        self.code = code
        self.curlCode = curlCode
        self.detail = detail
    }

    /// The deadline passed.
    public static let timedOut = HTTPClientError(.timedOut)
    /// Refused, unreachable, or no socket file.
    public static let couldNotConnect = HTTPClientError(.couldNotConnect)
    public static let couldNotResolveHost = HTTPClientError(.couldNotResolveHost)
    /// Handshake or certificate failure.
    public static let tlsFailure = HTTPClientError(.tlsFailure)
    /// The connection broke while sending or receiving, or the peer answered nothing.
    public static let connectionReset = HTTPClientError(.connectionReset)
    public static let responseTooLarge = HTTPClientError(.responseTooLarge)
    /// A malformed URL or a header with a line break.
    public static let invalidRequest = HTTPClientError(.invalidRequest)
    /// The client was shut down under the request.
    public static let cancelled = HTTPClientError(.cancelled)
    /// Anything else libcurl reports.
    public static func other(_ curlCode: Int32) -> HTTPClientError { HTTPClientError(.other, curlCode: curlCode) }

    /// Maps a libcurl result code.
    static func from(curlCode: Int32, detail: String?) -> HTTPClientError {
        let code: Code =
            switch curlCode {
            case 28: .timedOut
            case 7, 45: .couldNotConnect
            case 5, 6: .couldNotResolveHost
            case 35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91: .tlsFailure
            case 18, 52, 55, 56, 92, 95: .connectionReset
            case 1, 3: .invalidRequest
            default: .other
            }
        return HTTPClientError(code, curlCode: curlCode, detail: detail?.isEmpty == true ? nil : detail)
    }

    public static func == (lhs: HTTPClientError, rhs: HTTPClientError) -> Bool {
        lhs.code == rhs.code && (lhs.code != .other || lhs.curlCode == rhs.curlCode)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        if code == .other { hasher.combine(curlCode) }
    }

    /// Bounded, for metric labels: `timed_out`, `could_not_connect`, …
    public var shortDescription: String {
        switch code {
        case .timedOut: "timed_out"
        case .couldNotConnect: "could_not_connect"
        case .couldNotResolveHost: "could_not_resolve_host"
        case .tlsFailure: "tls_failure"
        case .connectionReset: "connection_reset"
        case .responseTooLarge: "response_too_large"
        case .invalidRequest: "invalid_request"
        case .cancelled: "cancelled"
        case .other: "curl_error_\(curlCode ?? -1)"
        }
    }

    public var description: String {
        let sentence =
            switch code {
            case .timedOut: "the request timed out"
            case .couldNotConnect: "could not connect"
            case .couldNotResolveHost: "could not resolve the host name"
            case .tlsFailure: "the TLS handshake or certificate check failed"
            case .connectionReset: "the connection broke before a complete answer"
            case .responseTooLarge: "the response is larger than allowed"
            case .invalidRequest: "the request is malformed (URL or headers)"
            case .cancelled: "the HTTP client was shut down"
            case .other: "libcurl error \(curlCode ?? -1)"
            }
        return detail.map { "\(sentence) (\($0))" } ?? sentence
    }
}
