import Foundation
import OpsProtocol
import OpsServer
import OpsTestSupport
import Synchronization
import Testing

@testable import OpsDaemon

#if canImport(Glibc)
import Glibc
#endif

/// The socket's connection cap: connections over it are answered 503 `too_many_connections` and closed, while the
/// ones admitted go on being served.
@Suite struct ConnectionLimitTests {
    /// A plain blocking Unix-socket client: the test reads exactly what the daemon sends, and sees it close.
    final class RawClient {
        let fd: Int32

        init(_ path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                buffer.copyBytes(from: Array(path.utf8) + [0])
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        }

        deinit { close(fd) }

        func send(_ text: String) {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// Reads until `marker` has arrived, or until the daemon closes (or 10 s pass); what arrived, and whether
        /// the daemon closed.
        func read(until marker: String? = nil) -> (text: String, closed: Bool) {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                if let marker, String(decoding: received, as: UTF8.self).contains(marker) {
                    return (String(decoding: received, as: UTF8.self), false)
                }
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { return (String(decoding: received, as: UTF8.self), count == 0) }
                received += buffer[0..<count]
            }
        }
    }

    func withDaemon(maxConnections: Int, _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        try await InProcessDaemon.with(
            clock: ManualClock(),
            api: ScriptedKinstaAPI(),
            configure: {
                $0.maxInFlight = 0
                $0.maxConnections = maxConnections
            },
            { daemon in
                try await body(daemon.socketPath)
            }
        )
    }

    static let follow = "GET /v1/events?follow=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    static let health = "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n"

    /// A chunked body the parser cannot read (a chunk size that is not hex), on many connections at once: every one is
    /// answered a JSON 400 `malformed_request`. (The socket fuzz saw two such requests go unanswered, once,
    /// when the error went on to the route's body stream and the connection closed before the route answered; this
    /// test does not bring that race about, it holds the answer itself: the handler now gives it.)
    @Test(.timeLimit(.minutes(1)))
    func anUnreadableBodyIsAlwaysAnswered() async throws {
        try await withDaemon(maxConnections: 64) { socket in
            let request =
                "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"
            // Blocking clients on threads of their own, not on the cooperative pool the daemon's tasks need.
            let answers = await withCheckedContinuation { (done: CheckedContinuation<[(String, Bool)], Never>) in
                Thread.detachNewThread {
                    let results = Mutex<[(String, Bool)]>([])
                    DispatchQueue.concurrentPerform(iterations: 100) { _ in
                        guard let client = try? RawClient(socket) else {
                            results.withLock { $0.append(("no connection", false)) }
                            return
                        }
                        client.send(request)
                        shutdown(client.fd, Int32(SHUT_WR))
                        let answer = client.read()
                        results.withLock { $0.append(answer) }
                    }
                    done.resume(returning: results.withLock { $0 })
                }
            }
            #expect(answers.count == 100)
            // The answer is the promise. (That the connection is closed at once is not asserted: in one CI run 2 of 100
            // were still open 10 s after their answer, on a loaded machine; the idle timeout closes them.)
            for (text, _) in answers {
                #expect(text.hasPrefix("HTTP/1.1 400"), "\(text)")
                #expect(text.contains(#""code":"malformed_request""#), "\(text)")
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func connectionsOverTheCapAre503AndClosed() async throws {
        try await withDaemon(maxConnections: 2) { socket in
            // Given two follow streams holding both places
            let followers = try [RawClient(socket), RawClient(socket)]
            for follower in followers {
                follower.send(Self.follow)
                #expect(follower.read(until: "\r\n\r\n").text.hasPrefix("HTTP/1.1 200"))
            }
            // When more clients come, each is answered 503 too_many_connections, in JSON, and closed
            for _ in 0..<3 {
                let extra = try RawClient(socket)
                extra.send(Self.health)
                let (text, closed) = extra.read()
                #expect(text.hasPrefix("HTTP/1.1 503"), "\(text)")
                #expect(closed)
                let body = try #require(text.range(of: "\r\n\r\n").map { text[$0.upperBound...] })
                let error = try JSONDecoder().decode(ErrorView.self, from: Data(body.utf8)).error
                #expect(error.code == "too_many_connections")
                #expect(text.lowercased().contains("retry-after: 1"))
            }
            // And a place given back is taken again: a follower leaves, its place serves the next client
            let admitted = Self.admittedAfterOneLeaves(socket, followers: followers)
            #expect(admitted.hasPrefix("HTTP/1.1 200"), "\(admitted)")
        }
    }

    /// Shuts the first follower's connection both ways and reads the daemon's answer to a new client. A Unix
    /// socket whose peer is gone polls as hung up, so the daemon closes its end at once; a client that comes in
    /// the moment before is refused and tried again, at most 200 times (no sleep: each try is one exchange).
    static func admittedAfterOneLeaves(_ socket: String, followers: [RawClient]) -> String {
        shutdown(followers[0].fd, Int32(SHUT_RDWR))
        for _ in 0..<200 {
            guard let client = try? RawClient(socket) else { continue }
            client.send(health)
            let text = client.read(until: "\r\n\r\n").text
            if !text.hasPrefix("HTTP/1.1 503") { return text }
        }
        return "never admitted"
    }

    @Test func limiterCountsPlacesAndCallsBackAtZero() {
        let idle = Atomic<Int>(0)
        let limiter = ConnectionLimiter(maximum: 2, onIdle: { idle.add(1, ordering: .relaxed) })
        #expect(limiter.admit() && limiter.admit())
        #expect(!limiter.admit())
        #expect(limiter.connections == 2 && limiter.refused == 1)
        limiter.release()
        #expect(idle.load(ordering: .relaxed) == 0)
        #expect(limiter.admit())
        limiter.release()
        limiter.release()
        #expect(limiter.connections == 0 && idle.load(ordering: .relaxed) == 1)
    }

    @Test func capStaysUnderTheOpenFileLimit() {
        #expect(FileLimit.connectionCap(configured: 512, softLimit: 4096) == 512)
        #expect(
            FileLimit.connectionCap(configured: 512, softLimit: 256)
                == 256 - Int(FileLimit.reserve) - FileLimit.refusedAllowance
        )
        #expect(FileLimit.connectionCap(configured: 512, softLimit: 100) == 25)
    }
}
