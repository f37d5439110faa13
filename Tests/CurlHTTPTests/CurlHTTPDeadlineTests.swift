import CurlHTTP
import Foundation
import Testing

/// Deadlines, cancellation and connection failures.
@Suite("CurlHTTPClient deadlines and failures")
struct CurlHTTPDeadlineTests {
    let client = CurlHTTPClient()

    @Test("a 300 ms deadline against a handler that sleeps 3 s fails with .timedOut in about 0.3 s")
    func subSecondDeadline() async throws {
        try await withTestServer { server in
            let start = ContinuousClock.now
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(server.request("/sleep", timeout: .milliseconds(300)))
            }
            let elapsed = ContinuousClock.now - start
            #expect(error == .timedOut)
            #expect(error?.curlCode == 28)
            #expect(error?.shortDescription == "timed_out")
            #expect(elapsed >= .milliseconds(290))
            // Well under the handler's 3 s, even on a loaded machine
            #expect(elapsed < .milliseconds(2500), "took \(elapsed)")
        }
    }

    @Test("the deadline is total: a body trickling in past it fails with .timedOut")
    func totalDeadlineOverSlowBody() async throws {
        try await withTestServer { server in
            let start = ContinuousClock.now
            // One byte every 100 ms for 3 s: never idle for long, but far past 500 ms in total.
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(server.request("/trickle?count=30", timeout: .milliseconds(500)))
            }
            let elapsed = ContinuousClock.now - start
            #expect(error == .timedOut)
            #expect(elapsed >= .milliseconds(490))
            #expect(elapsed < .milliseconds(2500), "took \(elapsed)")  // the trickle takes 3 s
        }
    }

    @Test("a slow body that finishes within the deadline succeeds")
    func slowBodyWithinDeadline() async throws {
        try await withTestServer { server in
            let response = try await client.execute(server.request("/trickle?count=3", timeout: .seconds(5)))
            #expect(String(decoding: response.body, as: UTF8.self) == "...")
        }
    }

    @Test("a closed TCP port fails with .couldNotConnect")
    func connectionRefused() async throws {
        try await withRefusingPort { port in
            let start = ContinuousClock.now
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(CurlRequest(url: "http://127.0.0.1:\(port)/x?token=secret-value"))
            }
            #expect(error == .couldNotConnect)
            #expect(error?.curlCode == 7)
            #expect(error?.shortDescription == "could_not_connect")
            let description = error.map(String.init(describing:)) ?? ""
            #expect(description.contains("curl error 7"))
            #expect(!description.contains("secret-value"))
            #expect(ContinuousClock.now - start < .seconds(10))  // refused at once: no connect timeout waited out
        }
    }

    @Test("a missing Unix socket file fails with .couldNotConnect")
    func missingUnixSocket() async throws {
        let request = CurlRequest(url: "http://localhost/v1/jobs", unixSocketPath: "/tmp/ch-does-not-exist.sock")
        let error = await #expect(throws: HTTPClientError.self) {
            try await client.execute(request)
        }
        #expect(error == .couldNotConnect)
        await #expect(throws: HTTPClientError.couldNotConnect) {
            try await client.stream(request)
        }
    }

    // Name resolution failures (CURLE_COULDNT_RESOLVE_HOST → .couldNotResolveHost) are covered by the mapping
    // tests in HTTPClientErrorTests only: resolving a bogus name would query the machine's DNS server, and tests
    // here send traffic to loopback only.

    @Test("cancelling the calling task throws CancellationError promptly")
    func taskCancellation() async throws {
        try await withTestServer { server in
            let task = Task { try await client.execute(server.request("/hang", timeout: .seconds(10))) }
            var arrivals = server.events.hangArrived.makeAsyncIterator()
            await arrivals.next()
            let start = ContinuousClock.now
            task.cancel()
            await #expect(throws: CancellationError.self) {
                try await task.value
            }
            #expect(ContinuousClock.now - start < .seconds(6))  // vs the 10 s it would take uncancelled

            // The client stays usable.
            let response = try await client.execute(server.request("/hello"))
            #expect(response.status == 200)
        }
    }

    @Test("a task cancelled before the request starts throws CancellationError")
    func cancelledBeforeStart() async throws {
        try await withTestServer { server in
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await client.execute(server.request("/hello"))
            }
            await #expect(throws: CancellationError.self) {
                try await task.value
            }
        }
    }

    @Test("connectTimeout never extends the total deadline")
    func connectTimeoutDoesNotExtend() async throws {
        try await withTestServer { server in
            var request = server.request("/sleep", timeout: .milliseconds(300))
            request.connectTimeout = .seconds(10)
            let start = ContinuousClock.now
            await #expect(throws: HTTPClientError.timedOut) {
                try await client.execute(request)
            }
            #expect(ContinuousClock.now - start < .milliseconds(2500))  // the handler sleeps 3 s
        }
    }
}
