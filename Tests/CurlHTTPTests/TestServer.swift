import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `CurlHTTP.HTTPRequest`, spelled out because Hummingbird re-exports HTTPTypes' type of the same name.
typealias CurlRequest = CurlHTTP.HTTPRequest

/// Signals that a test server records so that a test can await them instead of sleeping.
final class ServerEvents: Sendable {
    /// Yields once per request that reached a `/hang` handler.
    let hangArrived: AsyncStream<Void>
    private let hangArrivedContinuation: AsyncStream<Void>.Continuation
    /// Yields once per `/forever` handler whose client went away (a write failed or the handler was cancelled).
    let foreverAborted: AsyncStream<Void>
    private let foreverAbortedContinuation: AsyncStream<Void>.Continuation
    /// Set by `/ndjson` just before it writes its last line.
    let ndjsonLastLineWritten = Atomic<Bool>(false)

    init() {
        (hangArrived, hangArrivedContinuation) = AsyncStream.makeStream(of: Void.self)
        (foreverAborted, foreverAbortedContinuation) = AsyncStream.makeStream(of: Void.self)
    }

    fileprivate func didReceiveHang() { hangArrivedContinuation.yield() }
    fileprivate func didAbortForever() { foreverAbortedContinuation.yield() }
}

/// A running test server: where to reach it and what it observed.
struct TestServer: Sendable {
    /// `http://127.0.0.1:PORT` for TCP servers, `http://localhost` for Unix socket servers.
    let baseURL: String
    /// The socket path for Unix socket servers.
    let socketPath: String?
    let events: ServerEvents

    /// A request to `path` on this server, over its Unix socket if it has one.
    func request(_ path: String, method: String = "GET", timeout: Duration = .seconds(10)) -> CurlRequest {
        CurlRequest(method: method, url: baseURL + path, timeout: timeout, unixSocketPath: socketPath)
    }
}

/// The JSON that `/echo` answers with.
struct EchoReply: Codable {
    var method: String
    var path: String
    var headers: [String: String]
    var body: String
    var bodyLength: Int
}

/// Builds the routes every test server has.
func makeTestRouter(events: ServerEvents) -> Router<BasicRequestContext> {
    let router = Router()

    let hello: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
        var headers = HTTPFields()
        headers[HTTPField.Name("Retry-After")!] = "120"
        headers[HTTPField.Name("X-Custom")!] = "abc"
        headers[.contentType] = "text/plain"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "hello")))
    }
    router.get("hello", use: hello)
    router.head("hello", use: hello)

    for method in [HTTPTypes.HTTPRequest.Method.get, .post, .put, .delete, .patch] {
        router.on("echo", method: method) { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 4 * 1024 * 1024)
            var headers: [String: String] = [:]  // keyed by lowercased name
            for field in request.headers {
                headers[field.name.canonicalName] = field.value
            }
            let reply = EchoReply(
                method: request.method.rawValue,
                path: request.uri.string,
                headers: headers,
                body: String(buffer: body),
                bodyLength: body.readableBytes
            )
            let json = try JSONEncoder().encode(reply)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: json))
            )
        }
    }

    router.get("status/:code") { _, context in
        let code = try context.parameters.require("code", as: Int.self)
        return Response(
            status: HTTPTypes.HTTPResponse.Status(code: code),
            body: .init(byteBuffer: ByteBuffer(string: "status \(code)"))
        )
    }

    router.get("redirect") { _, _ in
        Response(status: .found, headers: [.location: "/hello"], body: .init(byteBuffer: ByteBuffer(string: "moved")))
    }

    // Answers only after 3 seconds.
    router.get("sleep") { _, _ in
        try await Task.sleep(for: .seconds(3))
        return "slept"
    }

    // Tells the test it arrived, then answers only after 3 seconds.
    router.get("hang") { _, _ in
        events.didReceiveHang()
        try await Task.sleep(for: .seconds(3))
        return "hung"
    }

    // Sends the head at once, then one byte every 100 ms, `count` times (default 30): never idle for long, but
    // slow in total.
    router.get("trickle") { request, _ in
        let count = request.uri.queryParameters.get("count", as: Int.self) ?? 30
        return Response(
            status: .ok,
            body: ResponseBody { writer in
                for _ in 0..<count {
                    try await writer.write(ByteBuffer(string: "."))
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await writer.finish(nil)
            }
        )
    }

    // Three NDJSON lines, 100 ms apart, chunked.
    router.get("ndjson") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "{\"n\":1}\n"))
                try await Task.sleep(for: .milliseconds(100))
                try await writer.write(ByteBuffer(string: "{\"n\":2}\n"))
                try await Task.sleep(for: .milliseconds(100))
                events.ndjsonLastLineWritten.store(true, ordering: .sequentiallyConsistent)
                try await writer.write(ByteBuffer(string: "{\"n\":3}\n"))
                try await writer.finish(nil)
            }
        )
    }

    // A line every 20 ms for up to 10 s; reports when the client goes away.
    router.get("forever") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                do {
                    for n in 0..<500 {
                        try await writer.write(ByteBuffer(string: "{\"tick\":\(n)}\n"))
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    try await writer.finish(nil)
                } catch {
                    events.didAbortForever()
                    throw error
                }
            }
        )
    }

    // `size` bytes, with a Content-Length, or chunked when `chunked=1`.
    router.get("big") { request, _ in
        let size = request.uri.queryParameters.get("size", as: Int.self) ?? 65536
        let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
        if request.uri.queryParameters.get("chunked") == "1" {
            return Response(
                status: .ok,
                body: ResponseBody { writer in
                    var remaining = payload
                    while let slice = remaining.readSlice(length: min(4096, remaining.readableBytes)),
                        slice.readableBytes > 0
                    {
                        try await writer.write(slice)
                    }
                    try await writer.finish(nil)
                }
            )
        }
        return Response(status: .ok, body: .init(byteBuffer: payload))
    }

    return router
}

/// Runs a Hummingbird server on `address` for the duration of `body`, then stops it.
private func withServer<T: Sendable>(
    address: BindAddress,
    baseURL: @Sendable (Int?) -> String,
    socketPath: String?,
    _ body: (TestServer) async throws -> T
) async throws -> T {
    let events = ServerEvents()
    let (running, runningContinuation) = AsyncStream.makeStream(of: Int?.self)
    var logger = Logger(label: "CurlHTTPTests.server")
    logger.logLevel = .critical
    let app = Application(
        router: makeTestRouter(events: events),
        configuration: .init(address: address),
        onServerRunning: { channel in
            runningContinuation.yield(channel.localAddress?.port)
            runningContinuation.finish()
        },
        logger: logger
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await app.runService(gracefulShutdownSignals: [])
        }
        var iterator = running.makeAsyncIterator()
        guard let port = await iterator.next() else {
            throw TestServerError.didNotStart
        }
        let result = try await body(TestServer(baseURL: baseURL(port), socketPath: socketPath, events: events))
        group.cancelAll()
        return result
    }
}

enum TestServerError: Error {
    case didNotStart
}

/// Runs a test server on 127.0.0.1 with a random free port.
func withTestServer<T: Sendable>(_ body: (TestServer) async throws -> T) async throws -> T {
    try await withServer(
        address: .hostname("127.0.0.1", port: 0),
        baseURL: { port in "http://127.0.0.1:\(port ?? 0)" },
        socketPath: nil,
        body
    )
}

/// Runs a test server on a fresh Unix domain socket under /tmp (short path: the limit is about 104 bytes).
func withUnixSocketTestServer<T: Sendable>(_ body: (TestServer) async throws -> T) async throws -> T {
    let path = "/tmp/ch-\(UInt32.random(in: 0...UInt32.max)).sock"
    defer { unlink(path) }
    return try await withServer(
        address: .unixDomainSocket(path: path),
        baseURL: { _ in "http://localhost" },
        socketPath: path,
        body
    )
}

/// A TCP port on 127.0.0.1 that refuses connections: bound (so nobody else takes it) but not listening.
/// Runs `body` with the port and closes the socket afterwards.
func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #expect(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
            bind(fd, sockaddrPointer, length) == 0 && getsockname(fd, sockaddrPointer, &length) == 0
        }
    }
    #expect(bound)
    return try await body(Int(UInt16(bigEndian: address.sin_port)))
}

/// Runs `body` with the port of a raw TCP server on 127.0.0.1 that answers exactly one connection: it reads the
/// request head (unless `readsRequest` is false), writes `reply` verbatim (nothing if empty), and closes. For
/// replies Hummingbird would never send: interim `1xx` heads, trailers, truncated bodies, no reply, plain text to
/// a TLS client.
func withCannedReplyServer<T>(
    _ reply: String,
    readsRequest: Bool = true,
    _ body: (Int) async throws -> T
) async throws -> T {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #expect(listener >= 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let listening = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
            bind(listener, sockaddrPointer, length) == 0 && listen(listener, 1) == 0
                && getsockname(listener, sockaddrPointer, &length) == 0
        }
    }
    #expect(listening)
    let thread = Thread {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while readsRequest, !request.ends(with: Array("\r\n\r\n".utf8)) {
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            request.append(contentsOf: buffer[..<count])
        }
        let bytes = Array(reply.utf8)
        _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if !readsRequest {
            // Drain what the client sent (e.g. a TLS ClientHello): closing with unread data would send a RST that
            // could overtake the reply.
            _ = recv(connection, &buffer, buffer.count, 0)
        }
    }
    thread.start()
    defer {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
    return try await body(Int(UInt16(bigEndian: address.sin_port)))
}

extension Array where Element: Equatable {
    fileprivate func ends(with suffix: [Element]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
