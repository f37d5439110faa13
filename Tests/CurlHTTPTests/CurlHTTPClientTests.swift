import CurlHTTP
import Foundation
import Testing

/// Plain request/response exchanges against a real Hummingbird server.
@Suite("CurlHTTPClient exchanges")
struct CurlHTTPClientTests {
    let client = CurlHTTPClient()

    @Test("GET returns status, headers and body")
    func getHello() async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/hello"))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "hello")
            #expect(response.header("content-type") == "text/plain")
        }
    }

    @Test("response header lookup is case-insensitive")
    func headerLookup() async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/hello"))
            #expect(response.header("Retry-After") == "120")
            #expect(response.header("retry-after") == "120")
            #expect(response.header("RETRY-AFTER") == "120")
            #expect(response.header("x-custom") == "abc")
            #expect(response.header("X-Missing") == nil)
        }
    }

    @Test("POST JSON round trip echoes method, headers and body")
    func postJSON() async throws {
        try await withTestServer { server in
            var request = server.request("/echo?x=1", method: "POST")
            let payload = #"{"name":"site","env":"live"}"#
            request.body = Data(payload.utf8)
            request.headers = [
                HTTPHeader("Content-Type", "application/json"),
                HTTPHeader("Authorization", "Bearer token-123"),
                HTTPHeader("X-Request-Id", "abc-1"),
                HTTPHeader("X-Empty", ""),
            ]
            let response = try await client.execute(request)
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/json")
            let echo = try JSONDecoder().decode(EchoReply.self, from: response.body)
            #expect(echo.method == "POST")
            #expect(echo.path == "/echo?x=1")
            #expect(echo.body == payload)
            #expect(echo.headers["content-type"] == "application/json")
            #expect(echo.headers["authorization"] == "Bearer token-123")
            #expect(echo.headers["x-request-id"] == "abc-1")
            #expect(echo.headers["x-empty"] == "")
            #expect(echo.headers["content-length"] == String(payload.utf8.count))
            #expect(echo.headers["expect"] == nil)
        }
    }

    @Test("a large POST body is sent without Expect: 100-continue")
    func largePostWithoutExpect() async throws {
        try await withTestServer { server in
            var request = server.request("/echo", method: "POST")
            request.body = Data(repeating: UInt8(ascii: "a"), count: 2 * 1024 * 1024)
            let response = try await client.execute(request)
            let echo = try JSONDecoder().decode(EchoReply.self, from: response.body)
            #expect(echo.bodyLength == 2 * 1024 * 1024)
            #expect(echo.headers["expect"] == nil)
            #expect(echo.headers["content-type"] == nil)
        }
    }

    @Test("POST without a body sends Content-Length: 0", arguments: ["POST", "PUT", "PATCH"])
    func emptyBodyMethods(method: String) async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/echo", method: method))
            let echo = try JSONDecoder().decode(EchoReply.self, from: response.body)
            #expect(echo.method == method)
            #expect(echo.headers["content-length"] == "0")
            #expect(echo.bodyLength == 0)
        }
    }

    @Test("DELETE, PUT and PATCH send their bodies", arguments: ["DELETE", "PUT", "PATCH"])
    func bodyWithOtherMethods(method: String) async throws {
        try await withTestServer { server in
            var request = server.request("/echo", method: method)
            request.body = Data(#"{"reason":"test"}"#.utf8)
            request.headers = [HTTPHeader("Content-Type", "application/json")]
            let response = try await client.execute(request)
            let echo = try JSONDecoder().decode(EchoReply.self, from: response.body)
            #expect(echo.method == method)
            #expect(echo.body == #"{"reason":"test"}"#)
        }
    }

    @Test("DELETE without a body")
    func deleteWithoutBody() async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/echo", method: "DELETE"))
            let echo = try JSONDecoder().decode(EchoReply.self, from: response.body)
            #expect(echo.method == "DELETE")
            #expect(echo.bodyLength == 0)
        }
    }

    @Test("HEAD returns the head and no body")
    func head() async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/hello", method: "HEAD"))
            #expect(response.status == 200)
            #expect(response.body.isEmpty)
            #expect(response.header("Retry-After") == "120")
        }
    }

    @Test("4xx and 5xx statuses are values, not errors", arguments: [404, 500, 503, 429])
    func errorStatuses(code: Int) async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/status/\(code)"))
            #expect(response.status == code)
            #expect(String(decoding: response.body, as: UTF8.self) == "status \(code)")
        }
    }

    @Test("an unknown route is a 404 value")
    func notFound() async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/no/such/route"))
            #expect(response.status == 404)
        }
    }

    @Test("redirects are not followed by default")
    func redirectNotFollowed() async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/redirect"))
            #expect(response.status == 302)
            #expect(response.header("Location") == "/hello")
            #expect(String(decoding: response.body, as: UTF8.self) == "moved")
        }
    }

    @Test("redirects are followed when asked, with only the final headers")
    func redirectFollowed() async throws {
        try await withTestServer { server in
            var request = server.request("/redirect")
            request.followRedirects = true
            let response = try await client.execute(request)
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "hello")
            #expect(response.header("Location") == nil)
            #expect(response.header("Retry-After") == "120")
        }
    }

    @Test("requests over a Unix domain socket")
    func unixSocket() async throws {
        try await withUnixSocketTestServer { server in
            let hello = try await client.execute(server.request("/hello"))
            #expect(hello.status == 200)
            #expect(String(decoding: hello.body, as: UTF8.self) == "hello")

            var post = server.request("/echo", method: "POST")
            post.body = Data("over uds".utf8)
            let echo = try JSONDecoder().decode(EchoReply.self, from: try await client.execute(post).body)
            #expect(echo.body == "over uds")
            #expect(echo.path == "/echo")
        }
    }

    @Test("a body beyond maxResponseBytes fails with .responseTooLarge", arguments: [false, true])
    func responseTooLarge(chunked: Bool) async throws {
        try await withTestServer { server in
            var request = server.request("/big?size=65536&chunked=\(chunked ? 1 : 0)")
            request.maxResponseBytes = 1024
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(request)
            }
            #expect(error == .responseTooLarge)
            #expect(error?.shortDescription == "response_too_large")

            request.maxResponseBytes = 65536
            let response = try await client.execute(request)
            #expect(response.body.count == 65536)
        }
    }

    @Test(
        "CR or LF in a header is rejected before sending",
        arguments: [
            HTTPHeader("X-Bad", "value\r\nInjected: yes"),
            HTTPHeader("X-Bad", "value\nInjected: yes"),
            HTTPHeader("X-Bad\r\nInjected", "yes"),
            HTTPHeader("X-Bad: yes", "no"),
            HTTPHeader("", "empty name"),
        ]
    )
    func headerInjection(header: HTTPHeader) async throws {
        let client = CurlHTTPClient()
        let request = CurlRequest(url: "http://127.0.0.1:9/", headers: [header])
        let error = await #expect(throws: HTTPClientError.self) {
            try await client.execute(request)
        }
        #expect(error == .invalidRequest)
        await #expect(throws: HTTPClientError.invalidRequest) {
            try await client.stream(request)
        }
    }

    @Test(
        "malformed URLs and methods are .invalidRequest",
        arguments: [
            ("GET", "not a url"),
            ("GET", "ftp://127.0.0.1/file"),
            ("GET", "http://127.0.0.1/a b"),
            ("GE T", "http://127.0.0.1/"),
            ("GET\r\n", "http://127.0.0.1/"),
            ("GET", "http://[::1/"),
        ]
    )
    func invalidRequests(method: String, url: String) async throws {
        let client = CurlHTTPClient()
        let error = await #expect(throws: HTTPClientError.self) {
            try await client.execute(CurlRequest(method: method, url: url, timeout: .seconds(2)))
        }
        #expect(error == .invalidRequest)
    }

    @Test("50 concurrent requests all complete with their own responses")
    func concurrentRequests() async throws {
        try await withTestServer { server in
            try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for index in 0..<50 {
                    group.addTask {
                        var request = server.request("/echo?i=\(index)", method: "POST")
                        request.body = Data("body-\(index)".utf8)
                        request.headers = [HTTPHeader("X-Index", String(index))]
                        let response = try await client.execute(request)
                        let echo = try JSONDecoder().decode(EchoReply.self, from: response.body)
                        #expect(echo.body == "body-\(index)")
                        #expect(echo.path == "/echo?i=\(index)")
                        return (index, echo.headers["x-index"])
                    }
                }
                var seen = Set<Int>()
                for try await (index, header) in group {
                    #expect(header == String(index))
                    seen.insert(index)
                }
                #expect(seen == Set(0..<50))
            }
        }
    }

    @Test("after shutdown, requests fail with .cancelled")
    func shutdownRejects() async throws {
        let client = CurlHTTPClient()
        client.shutdown()
        client.shutdown()
        await #expect(throws: HTTPClientError.cancelled) {
            try await client.execute(CurlRequest(url: "http://127.0.0.1:9/"))
        }
    }

    @Test("shutdown fails requests in flight")
    func shutdownInFlight() async throws {
        try await withTestServer { server in
            let client = CurlHTTPClient()
            let task = Task { try await client.execute(server.request("/hang")) }
            var arrivals = server.events.hangArrived.makeAsyncIterator()
            await arrivals.next()
            let start = ContinuousClock.now
            client.shutdown()
            await #expect(throws: HTTPClientError.cancelled) {
                try await task.value
            }
            #expect(ContinuousClock.now - start < .seconds(2))  // vs never: /hang does not answer
        }
    }
}
