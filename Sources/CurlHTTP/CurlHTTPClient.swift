import CCurl
import Foundation

/// An HTTP client over libcurl, for outbound API calls, webhook deliveries, and talking to a local daemon over a
/// Unix domain socket.
///
/// Each client owns one libcurl multi handle driven by one background thread (see ``init()``); the `async` methods
/// suspend without blocking Swift concurrency's threads. Connections are kept alive and reused across requests.
///
/// - Deadlines: ``HTTPRequest/timeout`` bounds the whole exchange, to the millisecond.
/// - Cancellation: cancelling the calling task aborts the transfer at once and throws `CancellationError`.
/// - Redirects are not followed unless ``HTTPRequest/followRedirects`` is set.
/// - HTTP error statuses are values; only transport failures throw ``HTTPClientError``.
public final class CurlHTTPClient: Sendable {
    private let loop: CurlMultiLoop

    /// Creates a client and starts its background thread (initializing libcurl once per process).
    public init() {
        loop = CurlMultiLoop()
    }

    deinit {
        // Requests in flight keep the loop alive (an open body stream may outlive the client); the thread exits
        // when the last of them is done.
        loop.exitWhenIdle()
    }

    /// Performs `request` and returns the complete response.
    ///
    /// - Returns: The final response, whatever its status (`404` and `500` included).
    /// - Throws: ``HTTPClientError`` for transport failures (``HTTPClientError/timedOut`` once
    ///   ``HTTPRequest/timeout`` has passed, ``HTTPClientError/responseTooLarge`` beyond
    ///   ``HTTPRequest/maxResponseBytes``, ``HTTPClientError/invalidRequest`` for a bad URL or header, ...),
    ///   ``HTTPClientError/cancelled`` after ``shutdown()``, or `CancellationError` if the task is cancelled.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        try Task.checkCancellation()
        try request.validate()
        let transfer = try CurlTransfer(request: request, streaming: false)
        let loop = self.loop
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                transfer.delivery = .buffered(continuation)
                if !loop.submit(transfer) {
                    transfer.fail(loop.rejectionError ?? .cancelled)
                }
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    /// Starts `request` and returns as soon as the final response head (status and headers) has arrived; the body
    /// follows as a stream of chunks, e.g. for NDJSON follow streams.
    ///
    /// ``HTTPRequest/timeout`` bounds only connecting, sending the request and receiving the head: the body may
    /// stay open indefinitely. ``HTTPRequest/maxResponseBytes`` does not apply. The body stream buffers without
    /// bound, so consume it promptly. Cancelling the task that iterates the body, or dropping the body stream,
    /// aborts the transfer.
    ///
    /// - Throws: As ``execute(_:)``, for failures before the head arrived; later failures are thrown by the body.
    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        try Task.checkCancellation()
        try request.validate()
        let transfer = try CurlTransfer(request: request, streaming: true)
        let loop = self.loop
        let (body, bodyContinuation) = AsyncThrowingStream.makeStream(of: Data.self, throwing: (any Error).self)
        bodyContinuation.onTermination = { [weak transfer] termination in
            // `.cancelled`: the consumer's task was cancelled or the stream was dropped. `.finished` is our own doing.
            if case .cancelled = termination, let transfer {
                loop.cancel(transfer)
            }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<HTTPStreamingResponse, any Error>) in
                transfer.delivery = .streamingHead(continuation, stream: body, body: bodyContinuation)
                if !loop.submit(transfer) {
                    transfer.fail(loop.rejectionError ?? .cancelled)
                }
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    /// The version of the libcurl linked at run time, e.g. `7.88.1` (for startup logs and bug reports).
    public static var libcurlVersion: String {
        String(cString: ccurl_version_string())
    }

    /// Aborts every request in flight (they throw ``HTTPClientError/cancelled``, or `CancellationError` if their
    /// task was cancelled too), makes later requests throw ``HTTPClientError/cancelled``, and lets the background
    /// thread exit.
    ///
    /// Idempotent and non-blocking, so it is safe to call from `deinit` paths and from any thread.
    public func shutdown() {
        loop.shutdown()
    }
}
