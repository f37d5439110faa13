/// A transport failure of ``CurlHTTPClient``: the exchange did not produce a response.
///
/// HTTP statuses such as `404` or `500` are never errors; they come back as ``HTTPResponse/status``. Cancellation of
/// the calling task throws `CancellationError`, not this type.
///
/// Compare with the static members (`error == .timedOut`): equality and hashing look only at the kind of failure
/// (and the code, for ``other(_:)``), never at ``curlCode`` or the detail text of a thrown error. ``description``
/// carries no secrets: never a request body, a header, or the URL's query.
public struct HTTPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; the public face of this type is its static members.
    private enum Kind: Sendable, Hashable {
        case timedOut
        case couldNotConnect
        case couldNotResolveHost
        case tlsFailure
        case connectionReset
        case responseTooLarge
        case invalidRequest
        case cancelled
        case other(Int32)
    }

    private let kind: Kind
    private let code: Int32?

    /// libcurl's own message for a thrown error (its `CURLOPT_ERRORBUFFER` text, with the URL's query cut out) or
    /// the reason a request was found invalid; `nil` for the static members. Not part of equality.
    public let detail: String?

    private init(_ kind: Kind, code: Int32? = nil, detail: String? = nil) {
        self.kind = kind
        self.code = code
        self.detail = detail
    }

    /// The total deadline (``HTTPRequest/timeout``) passed before the exchange finished (`CURLE_OPERATION_TIMEDOUT`).
    public static let timedOut = HTTPClientError(.timedOut)
    /// No connection could be made: refused, unreachable, or no such Unix socket file.
    public static let couldNotConnect = HTTPClientError(.couldNotConnect)
    /// The host name could not be resolved.
    public static let couldNotResolveHost = HTTPClientError(.couldNotResolveHost)
    /// The TLS handshake failed, or the server's certificate could not be verified.
    public static let tlsFailure = HTTPClientError(.tlsFailure)
    /// The connection broke: a send or receive error, an empty reply, or a body shorter than announced.
    public static let connectionReset = HTTPClientError(.connectionReset)
    /// The response body exceeded ``HTTPRequest/maxResponseBytes``.
    public static let responseTooLarge = HTTPClientError(.responseTooLarge)
    /// The request was rejected before sending: a bad URL, method, header (e.g. containing CR/LF) or option.
    public static let invalidRequest = HTTPClientError(.invalidRequest)
    /// The transfer was aborted by ``CurlHTTPClient/shutdown()``. Task cancellation throws `CancellationError`.
    public static let cancelled = HTTPClientError(.cancelled)

    /// Any other libcurl failure, by its `CURLcode`.
    public static func other(_ curlCode: Int32) -> HTTPClientError {
        HTTPClientError(.other(curlCode), code: curlCode)
    }

    /// The libcurl `CURLcode` behind this error, when it came from libcurl.
    public var curlCode: Int32? { code }

    /// A short, bounded identifier for metric labels and log keys, e.g. `timed_out`.
    public var shortDescription: String {
        switch kind {
        case .timedOut: return "timed_out"
        case .couldNotConnect: return "could_not_connect"
        case .couldNotResolveHost: return "could_not_resolve_host"
        case .tlsFailure: return "tls_failure"
        case .connectionReset: return "connection_reset"
        case .responseTooLarge: return "response_too_large"
        case .invalidRequest: return "invalid_request"
        case .cancelled: return "cancelled"
        case .other: return "other"
        }
    }

    /// A human sentence: what failed, the `CURLcode`, and libcurl's own message when there is one.
    public var description: String {
        var text: String
        switch kind {
        case .timedOut: text = "The HTTP request timed out"
        case .couldNotConnect: text = "Could not connect to the HTTP server"
        case .couldNotResolveHost: text = "Could not resolve the HTTP server's host name"
        case .tlsFailure: text = "The TLS connection to the HTTP server failed"
        case .connectionReset: text = "The connection to the HTTP server broke"
        case .responseTooLarge: text = "The HTTP response body exceeded the size limit"
        case .invalidRequest: text = "The HTTP request is invalid"
        case .cancelled: text = "The HTTP request was cancelled because the client shut down"
        case .other: text = "The HTTP request failed"
        }
        switch (code, detail) {
        case (let code?, let detail?): text += " (curl error \(code): \(detail))"
        case (let code?, nil): text += " (curl error \(code))"
        case (nil, let detail?): text += " (\(detail))"
        case (nil, nil): break
        }
        return text
    }

    public static func == (lhs: HTTPClientError, rhs: HTTPClientError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }
}

extension HTTPClientError {
    /// ``invalidRequest`` with a reason (which must not contain secrets).
    static func invalidRequest(detail: String) -> HTTPClientError {
        HTTPClientError(.invalidRequest, detail: detail)
    }

    /// The error for a failed transfer, from its `CURLcode` and libcurl's error buffer text.
    ///
    /// - Parameters:
    ///   - curlCode: The transfer's result.
    ///   - detail: The `CURLOPT_ERRORBUFFER` text, already stripped of the URL's query.
    ///   - exceededSizeLimit: Whether the write callback refused data because of ``HTTPRequest/maxResponseBytes``.
    static func fromCurl(_ curlCode: Int32, detail: String?, exceededSizeLimit: Bool) -> HTTPClientError {
        let detail = detail.flatMap { $0.isEmpty ? nil : $0 }
        let kind: Kind
        switch curlCode {
        case 28:  // CURLE_OPERATION_TIMEDOUT
            kind = .timedOut
        case 7:  // CURLE_COULDNT_CONNECT
            kind = .couldNotConnect
        case 5, 6:  // CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST
            kind = .couldNotResolveHost
        case 35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91:
            // SSL_CONNECT_ERROR, (obsolete 51), SSL_ENGINE_NOTFOUND, SSL_ENGINE_SETFAILED, SSL_CERTPROBLEM,
            // SSL_CIPHER, PEER_FAILED_VERIFICATION, USE_SSL_FAILED, SSL_ENGINE_INITFAILED, SSL_CACERT_BADFILE,
            // SSL_SHUTDOWN_FAILED, SSL_CRL_BADFILE, SSL_ISSUER_ERROR, SSL_PINNEDPUBKEYNOTMATCH,
            // SSL_INVALIDCERTSTATUS
            kind = .tlsFailure
        case 16, 18, 52, 55, 56, 92:
            // HTTP2, PARTIAL_FILE, GOT_NOTHING, SEND_ERROR, RECV_ERROR, HTTP2_STREAM
            kind = .connectionReset
        case 23 where exceededSizeLimit, 63:  // WRITE_ERROR from our size check, FILESIZE_EXCEEDED
            kind = .responseTooLarge
        case 1, 3, 43:  // UNSUPPORTED_PROTOCOL, URL_MALFORMAT, BAD_FUNCTION_ARGUMENT
            kind = .invalidRequest
        default:
            kind = .other(curlCode)
        }
        return HTTPClientError(kind, code: curlCode, detail: detail)
    }

    /// A copy of `self` with libcurl details attached (used where the kind is decided by the caller).
    func with(code: Int32?, detail: String?) -> HTTPClientError {
        HTTPClientError(kind, code: code, detail: detail)
    }
}
