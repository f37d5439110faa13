public import Foundation

/// One HTTP header. Names compare case-insensitively where it matters (``HTTPResponse/header(_:)``).
public struct HTTPHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A request for ``CurlHTTPClient``.
public struct HTTPRequest: Sendable {
    public var method: String
    /// Absolute URL. With ``unixSocketPath`` the host part is only the `Host` header (`http://localhost/v1/jobs`).
    public var url: String
    public var headers: [HTTPHeader]
    public var body: Data?
    /// Total deadline for the whole exchange, body included (`CURLOPT_TIMEOUT_MS`). For ``CurlHTTPClient/stream(_:)``
    /// it bounds only connecting and the response head; the body may stay open as long as it keeps moving.
    public var timeout: Duration
    /// Deadline for connecting alone; defaults to `timeout`.
    public var connectTimeout: Duration?
    /// Talk HTTP over this Unix domain socket instead of TCP.
    public var unixSocketPath: String?
    /// A CA bundle to trust instead of the system's.
    public var caFile: String?
    /// Bodies larger than this fail with ``HTTPClientError/responseTooLarge`` (not for streams).
    public var maxResponseBytes: Int
    /// Redirects are not followed unless asked: a 3xx comes back as it is.
    public var followRedirects: Bool

    public init(
        method: String = "GET", url: String, headers: [HTTPHeader] = [], body: Data? = nil,
        timeout: Duration = .seconds(30), unixSocketPath: String? = nil, caFile: String? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = nil
        self.unixSocketPath = unixSocketPath
        self.caFile = caFile
        self.maxResponseBytes = 8 << 20
        self.followRedirects = false
    }

    /// Throws ``HTTPClientError/invalidRequest`` for anything that could smuggle a header or a second request.
    func validate() throws {
        // Scalars, not Characters: "\r\n" is a single Character in Swift.
        let breaks = { (text: String) in text.unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "\0" } }
        guard !method.isEmpty, method.allSatisfy({ $0.isLetter }), !breaks(url),
            url.hasPrefix("http://") || url.hasPrefix("https://")
        else { throw HTTPClientError.invalidRequest }
        for header in headers {
            guard !header.name.isEmpty, !breaks(header.name), !header.name.contains(where: { $0 == ":" || $0 == " " }),
                !breaks(header.value)
            else { throw HTTPClientError.invalidRequest }
        }
    }
}

/// A complete response.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Headers of the final response only (never of a 1xx before it).
    public var headers: [HTTPHeader]
    public var body: Data

    public init(status: Int, headers: [HTTPHeader], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header named `name`, case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// A response whose body arrives as it is written (NDJSON follow streams).
public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: [HTTPHeader]
    /// Chunks as they arrive. Ending the iteration (or cancelling the consuming task) aborts the transfer. Chunks are
    /// buffered without bound while the consumer is slow; the streams this serves are small line-by-line feeds.
    public var body: AsyncThrowingStream<Data, any Error>

    /// The first header named `name`, case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}
