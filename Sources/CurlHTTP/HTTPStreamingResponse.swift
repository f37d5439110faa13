public import Foundation

/// An HTTP response whose head has arrived and whose body is still arriving, from ``CurlHTTPClient/stream(_:)``.
///
/// The body yields chunks as libcurl receives them (their boundaries are arbitrary, not lines), finishes when the
/// server ends the response, and throws ``HTTPClientError`` if the transfer fails midway. It buffers without bound:
/// a consumer that stops reading without dropping the stream lets chunks pile up in memory.
///
/// Cancelling the task iterating ``body``, or dropping every reference to ``body``, aborts the transfer and closes
/// its connection.
public struct HTTPStreamingResponse: Sendable {
    /// The status code of the final response head.
    public var status: Int
    /// The header fields of the final response head (no interim `1xx` heads, no trailers).
    public var headers: [HTTPHeader]
    /// The body, chunk by chunk; it may stay open indefinitely (``HTTPRequest/timeout`` does not bound it).
    public var body: AsyncThrowingStream<Data, any Error>

    /// Creates a streaming response value (useful for test doubles).
    public init(status: Int, headers: [HTTPHeader], body: AsyncThrowingStream<Data, any Error>) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header named `name`, compared case-insensitively; `nil` when absent.
    public func header(_ name: String) -> String? {
        headers.firstValue(named: name)
    }
}
