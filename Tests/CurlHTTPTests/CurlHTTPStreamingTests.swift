import CurlHTTP
import Foundation
import Synchronization
import Testing

/// `CurlHTTPClient.stream(_:)`: head first, body as it arrives.
@Suite("CurlHTTPClient streaming")
struct CurlHTTPStreamingTests {
    let client = CurlHTTPClient()

    @Test("NDJSON lines arrive incrementally, the first before the last is written")
    func incrementalNDJSON() async throws {
        try await withTestServer { server in
            let response = try await client.stream(server.request("/ndjson"))
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/x-ndjson")

            var received = Data()
            var firstChunkBeforeLastLine: Bool?
            for try await chunk in response.body {
                if firstChunkBeforeLastLine == nil {
                    firstChunkBeforeLastLine = !server.events.ndjsonLastLineWritten.load(
                        ordering: .sequentiallyConsistent
                    )
                }
                received.append(chunk)
            }
            #expect(firstChunkBeforeLastLine == true)
            let lines = String(decoding: received, as: UTF8.self).split(separator: "\n")
            #expect(lines == [#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#])
        }
    }

    @Test("the timeout of a stream bounds only the head, not the body")
    func timeoutBoundsHeadOnly() async throws {
        try await withTestServer { server in
            // 60 bytes, 100 ms apart: the body outlives the 4 s timeout (roomy enough for the head on a loaded
            // machine: the whole suite runs in parallel on two cores).
            let start = ContinuousClock.now
            let response = try await client.stream(server.request("/trickle?count=60", timeout: .seconds(4)))
            var received = Data()
            for try await chunk in response.body { received.append(chunk) }
            #expect(received == Data(String(repeating: ".", count: 60).utf8))
            #expect(ContinuousClock.now - start > .seconds(4))
        }
    }

    @Test("a head that does not arrive within the timeout fails with .timedOut")
    func headTimeout() async throws {
        try await withTestServer { server in
            let start = ContinuousClock.now
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.stream(server.request("/sleep", timeout: .milliseconds(300)))
            }
            let elapsed = ContinuousClock.now - start
            #expect(error == .timedOut)
            #expect(error?.curlCode == 28)
            #expect(elapsed >= .milliseconds(290))
            #expect(elapsed < .milliseconds(2500), "took \(elapsed)")  // the handler sleeps 3 s
        }
    }

    @Test("error statuses stream their body too")
    func streamingErrorStatus() async throws {
        try await withTestServer { server in
            let response = try await client.stream(server.request("/status/503"))
            #expect(response.status == 503)
            var received = Data()
            for try await chunk in response.body { received.append(chunk) }
            #expect(String(decoding: received, as: UTF8.self) == "status 503")
        }
    }

    @Test("a response without a body still delivers its head and ends the stream")
    func streamingEmptyBody() async throws {
        try await withTestServer { server in
            let response = try await client.stream(server.request("/hello", method: "HEAD"))
            #expect(response.status == 200)
            #expect(response.header("Retry-After") == "120")
            var chunks = 0
            for try await _ in response.body { chunks += 1 }
            #expect(chunks == 0)
        }
    }

    @Test("streaming over a Unix domain socket")
    func streamingOverUnixSocket() async throws {
        try await withUnixSocketTestServer { server in
            let response = try await client.stream(server.request("/ndjson"))
            var received = Data()
            for try await chunk in response.body { received.append(chunk) }
            #expect(String(decoding: received, as: UTF8.self).split(separator: "\n").count == 3)
        }
    }

    // `/forever` never ends by itself, so reaching `foreverAborted` proves the abort; the bound is loose because the
    // server only notices at its next write, which a loaded machine (the whole suite in parallel) can delay.
    @Test("dropping the body stream aborts the transfer", .timeLimit(.minutes(1)))
    func droppingStreamAborts() async throws {
        try await withTestServer { server in
            try await readFirstChunkAndDrop(client.stream(server.request("/forever")))
            let start = ContinuousClock.now
            var aborted = server.events.foreverAborted.makeAsyncIterator()
            await aborted.next()
            #expect(ContinuousClock.now - start < .seconds(30))
        }
    }

    @Test("cancelling the consuming task aborts the transfer", .timeLimit(.minutes(1)))
    func cancellingConsumerAborts() async throws {
        try await withTestServer { server in
            let response = try await client.stream(server.request("/forever"))
            let (firstChunk, firstChunkContinuation) = AsyncStream.makeStream(of: Void.self)
            let consumer = Task {
                var count = 0
                for try await _ in response.body {
                    count += 1
                    firstChunkContinuation.yield()
                }
                return count
            }
            var firstChunks = firstChunk.makeAsyncIterator()
            await firstChunks.next()
            let start = ContinuousClock.now
            consumer.cancel()
            // Ending quietly or with CancellationError are both fine; what matters is that it ends now.
            _ = try? await consumer.value
            var aborted = server.events.foreverAborted.makeAsyncIterator()
            await aborted.next()
            #expect(ContinuousClock.now - start < .seconds(30))
        }
    }

    @Test("cancelling the task waiting for the head throws CancellationError")
    func cancelWhileWaitingForHead() async throws {
        try await withTestServer { server in
            let task = Task { try await client.stream(server.request("/hang", timeout: .seconds(10))) }
            var arrivals = server.events.hangArrived.makeAsyncIterator()
            await arrivals.next()
            let start = ContinuousClock.now
            task.cancel()
            await #expect(throws: CancellationError.self) {
                try await task.value
            }
            // Far sooner than the 10 s deadline (with room for a loaded 2-core machine)
            #expect(ContinuousClock.now - start < .seconds(6))  // vs the 10 s it would take uncancelled
        }
    }

    @Test("a stream outlives the client object that started it")
    func streamOutlivesClient() async throws {
        try await withTestServer { server in
            var client: CurlHTTPClient? = CurlHTTPClient()
            let response = try await client!.stream(server.request("/ndjson"))
            client = nil
            var received = Data()
            for try await chunk in response.body { received.append(chunk) }
            #expect(String(decoding: received, as: UTF8.self).split(separator: "\n").count == 3)
        }
    }

    /// Reads one chunk, then lets the response and its stream go out of scope.
    private func readFirstChunkAndDrop(_ response: HTTPStreamingResponse) async throws {
        var iterator = response.body.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first != nil)
    }
}
