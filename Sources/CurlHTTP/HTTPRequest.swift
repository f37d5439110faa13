public import Foundation

/// A complete description of one HTTP exchange for ``CurlHTTPClient``.
///
/// Defaults are safe for talking to a remote API: redirects are not followed, the whole exchange (connect, request,
/// response head and body) must finish within ``timeout``, and buffered response bodies are capped at
/// ``maxResponseBytes``.
public struct HTTPRequest: Sendable {
    /// The request method, e.g. `GET`, `POST`, `DELETE`. Must be an RFC 9110 token.
    public var method: String
    /// The absolute URL, `http` or `https`. With ``unixSocketPath`` set, the host part only names the `Host`
    /// header, e.g. `http://localhost/v1/jobs`.
    public var url: String
    /// Request header fields, sent in order. Names and values must not contain CR, LF or NUL.
    public var headers: [HTTPHeader]
    /// The request body, sent with a `Content-Length`. `nil` sends no body; `POST`, `PUT` and `PATCH` then send an
    /// empty one (`Content-Length: 0`).
    public var body: Data?
    /// The total deadline for the whole exchange, body included (`CURLOPT_TIMEOUT_MS`), exact to the millisecond.
    /// Defaults to 30 seconds.
    ///
    /// For ``CurlHTTPClient/stream(_:)`` it bounds only connecting, sending the request and receiving the response
    /// head; the streamed body may then stay open indefinitely.
    public var timeout: Duration
    /// An optional separate deadline for establishing the connection (`CURLOPT_CONNECTTIMEOUT_MS`). It never
    /// extends ``timeout``.
    public var connectTimeout: Duration?
    /// Connect to this Unix domain socket instead of the URL's host and port (`CURLOPT_UNIX_SOCKET_PATH`).
    public var unixSocketPath: String?
    /// A PEM file of CA certificates to verify the server with, instead of the system's (`CURLOPT_CAINFO`).
    public var caFile: String?
    /// The largest buffered response body accepted; beyond it the transfer is aborted with
    /// ``HTTPClientError/responseTooLarge``. Not applied to streamed bodies. Defaults to 8 MiB.
    public var maxResponseBytes: Int
    /// Whether to follow `3xx` redirects (at most 10, to http and https only). Defaults to `false`: the redirect
    /// response itself is returned.
    public var followRedirects: Bool

    /// The default for ``maxResponseBytes``: 8 MiB.
    public static let defaultMaxResponseBytes = 8 * 1024 * 1024

    /// Creates a request.
    ///
    /// ``connectTimeout`` starts as `nil`, ``maxResponseBytes`` as 8 MiB and ``followRedirects`` as `false`; set
    /// them on the value afterwards if needed.
    public init(
        method: String = "GET",
        url: String,
        headers: [HTTPHeader] = [],
        body: Data? = nil,
        timeout: Duration = .seconds(30),
        unixSocketPath: String? = nil,
        caFile: String? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = nil
        self.unixSocketPath = unixSocketPath
        self.caFile = caFile
        self.maxResponseBytes = Self.defaultMaxResponseBytes
        self.followRedirects = false
    }
}

extension HTTPRequest {
    /// Checks everything that must hold before the request is handed to libcurl.
    ///
    /// - Throws: ``HTTPClientError/invalidRequest`` for a bad method, URL, header, file path or limit.
    func validate() throws(HTTPClientError) {
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPHeader.isTokenByte) else {
            throw .invalidRequest(detail: "the method is not a valid token")
        }
        let lowercasedURL = url.lowercased()
        guard lowercasedURL.hasPrefix("http://") || lowercasedURL.hasPrefix("https://") else {
            throw .invalidRequest(detail: "the URL must be absolute and use http or https")
        }
        guard !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw .invalidRequest(detail: "the URL contains whitespace or control characters")
        }
        for header in headers {
            guard HTTPHeader.isValidName(header.name) else {
                throw .invalidRequest(detail: "a header name is empty or contains invalid characters")
            }
            guard HTTPHeader.isValidValue(header.value) else {
                throw .invalidRequest(detail: "the value of header \(header.name) contains CR, LF or NUL")
            }
        }
        for path in [unixSocketPath, caFile] {
            if let path, path.isEmpty || path.utf8.contains(0) {
                throw .invalidRequest(detail: "a file path is empty or contains NUL")
            }
        }
        guard maxResponseBytes >= 0 else {
            throw .invalidRequest(detail: "maxResponseBytes is negative")
        }
    }
}

extension Duration {
    /// This duration in whole milliseconds, rounded up, at least 1 (libcurl reads 0 as "no timeout").
    var curlMilliseconds: Int {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 1 }
        let (wholeMillis, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return Int.max }
        let attosecondsPerMilli: Int64 = 1_000_000_000_000_000
        let fraction = attoseconds / attosecondsPerMilli + (attoseconds % attosecondsPerMilli > 0 ? 1 : 0)
        let total = wholeMillis.addingReportingOverflow(fraction)
        guard !total.overflow else { return Int.max }
        return Swift.max(1, Int(total.partialValue))
    }
}
