import CurlHTTP
import Foundation
import Testing

/// Replies that a well-behaved server rarely sends, written verbatim by a raw socket server.
@Suite("CurlHTTPClient wire edge cases")
struct CurlHTTPWireTests {
    let client = CurlHTTPClient()

    @Test("interim 1xx heads do not leak their headers into the final response")
    func interimHeadIgnored() async throws {
        let reply =
            "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
            + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Final: yes\r\nConnection: close\r\n\r\nok"
        try await withCannedReplyServer(reply) { port in
            let response = try await client.execute(CurlRequest(url: "http://127.0.0.1:\(port)/"))
            #expect(response.status == 201)
            #expect(response.header("X-Interim") == nil)
            #expect(response.header("X-Final") == "yes")
            #expect(response.headers.map(\.name) == ["Content-Length", "X-Final", "Connection"])
            #expect(response.body == Data("ok".utf8))
        }
    }

    @Test("interim 1xx heads are skipped by streams too")
    func interimHeadIgnoredWhenStreaming() async throws {
        let reply =
            "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: yes\r\nConnection: close\r\n\r\nok"
        try await withCannedReplyServer(reply) { port in
            let response = try await client.stream(CurlRequest(url: "http://127.0.0.1:\(port)/"))
            #expect(response.status == 200)
            #expect(response.header("X-Interim") == nil)
            #expect(response.header("x-final") == "yes")
            var received = Data()
            for try await chunk in response.body { received.append(chunk) }
            #expect(received == Data("ok".utf8))
        }
    }

    @Test("chunked trailers are not mixed into the head; folded values are joined")
    func trailersAndFolding() async throws {
        let reply =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nX-Folded: a\r\n  b\r\n"
            + "Connection: close\r\n\r\n2\r\nok\r\n0\r\nX-Checksum: 123\r\n\r\n"
        try await withCannedReplyServer(reply) { port in
            let response = try await client.execute(CurlRequest(url: "http://127.0.0.1:\(port)/"))
            #expect(response.status == 200)
            #expect(response.body == Data("ok".utf8))
            #expect(response.header("X-Checksum") == nil)
            #expect(response.header("X-Folded") == "a b")
        }
    }

    @Test("a connection closed without a reply is .connectionReset")
    func nothingReceived() async throws {
        try await withCannedReplyServer("") { port in
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(CurlRequest(url: "http://127.0.0.1:\(port)/"))
            }
            #expect(error == .connectionReset)
            #expect(error?.curlCode == 52)
        }
    }

    @Test("a body cut short of its Content-Length is .connectionReset")
    func truncatedBody() async throws {
        try await withCannedReplyServer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b") { port in
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(CurlRequest(url: "http://127.0.0.1:\(port)/"))
            }
            #expect(error == .connectionReset)
            #expect(error?.curlCode == 18)
        }
    }

    @Test("a stream cut short fails its body with .connectionReset after the head arrived")
    func truncatedStream() async throws {
        try await withCannedReplyServer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b") { port in
            let response = try await client.stream(CurlRequest(url: "http://127.0.0.1:\(port)/"))
            #expect(response.status == 200)
            var received = Data()
            let error = await #expect(throws: HTTPClientError.self) {
                for try await chunk in response.body { received.append(chunk) }
            }
            #expect(error == .connectionReset)
            #expect(received == Data("only ten b".utf8))
        }
    }

    @Test("a server that does not speak TLS to an https request is .tlsFailure")
    func tlsHandshakeFailure() async throws {
        try await withCannedReplyServer("HTTP/1.1 400 Bad Request\r\n\r\n", readsRequest: false) { port in
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(CurlRequest(url: "https://127.0.0.1:\(port)/", timeout: .seconds(5)))
            }
            #expect(error == .tlsFailure)
            #expect(error?.shortDescription == "tls_failure")
        }
    }

    @Test("an unreadable CA file is .tlsFailure")
    func badCAFile() async throws {
        try await withCannedReplyServer("", readsRequest: false) { port in
            let request = CurlRequest(
                url: "https://127.0.0.1:\(port)/",
                timeout: .seconds(5),
                caFile: "/tmp/ch-no-such-ca-file.pem"
            )
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(request)
            }
            #expect(error == .tlsFailure)
        }
    }
}
