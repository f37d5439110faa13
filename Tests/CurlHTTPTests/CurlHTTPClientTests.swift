import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

/// The libcurl client against a real Hummingbird server, on loopback TCP and on a Unix socket. The server's handlers
/// stall on purpose where a deadline is under test; the tests themselves wait only on results.
/// The client's request type (Hummingbird brings another `HTTPRequest`).
typealias ClientRequest = CurlHTTP.HTTPRequest

@Suite struct CurlHTTPClientTests {
    static func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("echo") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers = HTTPFields()
            headers[.contentType] = request.headers[.contentType] ?? "application/octet-stream"
            headers[HTTPField.Name("X-Method")!] = "\(request.method)"
            headers[HTTPField.Name("X-Test")!] = request.headers[HTTPField.Name("X-Test")!] ?? ""
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
        router.delete("echo") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            return Response(status: .accepted, headers: [HTTPField.Name("X-Method")!: "\(request.method)"],
                body: .init(byteBuffer: body))
        }
        router.get("missing") { _, _ -> Response in
            Response(status: .notFound, headers: [HTTPField.Name("Retry-After")!: "7"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"status":404}"#)))
        }
        router.get("redirect") { _, _ -> Response in
            Response(status: .found, headers: [.location: "/missing"])
        }
        router.get("slow") { _, _ -> String in
            try await Task.sleep(for: .seconds(3))
            return "late"
        }
        router.get("trickle") { _, _ -> Response in
            Response(status: .ok, body: ResponseBody { writer in
                for _ in 0..<20 {
                    try await writer.write(ByteBuffer(string: "x"))
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await writer.finish(nil)
            })
        }
        router.get("lines") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
                for index in 0..<3 {
                    try await writer.write(ByteBuffer(string: "{\"n\":\(index)}\n"))
                    try await Task.sleep(for: .milliseconds(150))
                }
                try await writer.finish(nil)
            })
        }
        router.get("big") { _, _ -> Response in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 0x41, count: 100_000)))
        }
        return router
    }

    /// Runs the test server on `address` for the duration of `body`, handing it the base URL.
    static func withServer<T: Sendable>(
        unixSocket: String? = nil, _ body: @Sendable @escaping (String) async throws -> T
    ) async throws -> T {
        let port = Mutex<Int?>(nil)
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let address: BindAddress = unixSocket.map { .unixDomainSocket(path: $0) } ?? .hostname("127.0.0.1", port: 0)
        let app = Application(
            router: router(), configuration: .init(address: address),
            onServerRunning: { channel in
                port.withLock { $0 = channel.localAddress?.port }
                startedContinuation.yield()
            }, logger: Logger(label: "test-server"))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.run()
                return nil
            }
            for await _ in started { break }
            let base = unixSocket == nil ? "http://127.0.0.1:\(port.withLock { $0 } ?? 0)" : "http://localhost"
            let result = try await body(base)
            group.cancelAll()
            return result
        }
    }

    @Test func postRoundTripsBodyAndHeaders() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        try await Self.withServer { base in
            let response = try await client.execute(ClientRequest(
                method: "POST", url: base + "/echo",
                headers: [HTTPHeader("Content-Type", "application/json"), HTTPHeader("X-Test", "yes")],
                body: Data(#"{"a":1}"#.utf8)))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"a":1}"#)
            #expect(response.header("x-test") == "yes")
            #expect(response.header("CONTENT-TYPE") == "application/json")
            let delete = try await client.execute(ClientRequest(method: "DELETE", url: base + "/echo", body: Data("z".utf8)))
            #expect(delete.status == 202)
            #expect(delete.header("X-Method") == "DELETE")
            #expect(String(decoding: delete.body, as: UTF8.self) == "z")
        }
    }

    @Test func statusesAreValuesAndRedirectsAreNotFollowed() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        try await Self.withServer { base in
            let missing = try await client.execute(ClientRequest(url: base + "/missing"))
            #expect(missing.status == 404)
            #expect(missing.header("retry-after") == "7")
            let redirect = try await client.execute(ClientRequest(url: base + "/redirect"))
            #expect(redirect.status == 302)
            #expect(redirect.header("Location") == "/missing")
        }
    }

    @Test func worksOverAUnixSocket() async throws {
        let path = "/tmp/ch-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        try await Self.withServer(unixSocket: path) { base in
            let response = try await client.execute(ClientRequest(
                method: "POST", url: base + "/echo", body: Data("over uds".utf8), unixSocketPath: path))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "over uds")
        }
    }

    @Test func deadlineIsTotalAndSubSecond() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        try await Self.withServer { base in
            // A handler that answers after 3 s, with a 300 ms deadline
            let started = ContinuousClock.now
            await #expect(throws: HTTPClientError.timedOut) {
                _ = try await client.execute(ClientRequest(url: base + "/slow", timeout: .milliseconds(300)))
            }
            #expect(ContinuousClock.now - started < .milliseconds(900))
            // A body that keeps moving but takes 2 s in all, with a 500 ms deadline: total, not idle
            await #expect(throws: HTTPClientError.timedOut) {
                _ = try await client.execute(ClientRequest(url: base + "/trickle", timeout: .milliseconds(500)))
            }
        }
    }

    @Test func refusedConnectionsAreCouldNotConnect() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        await #expect(throws: HTTPClientError.couldNotConnect) {
            _ = try await client.execute(ClientRequest(url: "http://127.0.0.1:1/", timeout: .seconds(2)))
        }
        await #expect(throws: HTTPClientError.couldNotConnect) {
            _ = try await client.execute(ClientRequest(url: "http://localhost/", unixSocketPath: "/tmp/no-such-socket"))
        }
    }

    @Test func cancellingTheTaskCancelsTheRequest() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        try await Self.withServer { base in
            let task = Task { try await client.execute(ClientRequest(url: base + "/slow", timeout: .seconds(10))) }
            task.cancel()
            await #expect(throws: CancellationError.self) { _ = try await task.value }
        }
    }

    @Test func streamsDeliverLinesAsTheyAreWritten() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        try await Self.withServer { base in
            let response = try await client.stream(ClientRequest(url: base + "/lines"))
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/x-ndjson")
            var received = Data()
            var chunks = 0
            for try await chunk in response.body {
                received.append(chunk)
                chunks += 1
            }
            #expect(String(decoding: received, as: UTF8.self) == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n")
            // Written 150 ms apart, so they cannot all have come as one chunk
            #expect(chunks >= 2)
        }
    }

    @Test func oversizedBodiesAndHeaderInjectionAreRefused() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        try await Self.withServer { base in
            var request = ClientRequest(url: base + "/big")
            request.maxResponseBytes = 1000
            await #expect(throws: HTTPClientError.responseTooLarge) { _ = try await client.execute(request) }
            await #expect(throws: HTTPClientError.invalidRequest) {
                _ = try await client.execute(ClientRequest(url: base + "/missing",
                    headers: [HTTPHeader("X-Evil", "a\r\nInjected: yes")]))
            }
        }
    }

    @Test func manyConcurrentRequestsAllComplete() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        try await Self.withServer { base in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        let response = try await client.execute(ClientRequest(
                            method: "POST", url: base + "/echo", body: Data("\(index)".utf8)))
                        return Int(String(decoding: response.body, as: UTF8.self)) ?? -1
                    }
                }
                var seen = Set<Int>()
                for try await value in group { seen.insert(value) }
                #expect(seen == Set(0..<50))
            }
        }
    }
}
