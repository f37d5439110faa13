import Dispatch
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `NOTIFY_SOCKET` of the test's own: a datagram socket whose messages arrive as they are sent, as systemd sees them.
final class NotifyListener: Sendable {
    let path: String
    private let fd: Int32
    private struct Waiter {
        var text: String
        var after: Int
        var continuation: CheckedContinuation<Int, any Error>
    }
    private struct State {
        var messages: [(at: ContinuousClock.Instant, text: String)] = []
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0

        /// The index of the first message at or after `after` that holds `text`.
        func match(_ text: String, after: Int) -> Int? {
            messages.indices.first { $0 >= after && messages[$0].text.contains(text) }
        }
    }
    private let state = Mutex(State())
    private let stopped = Mutex(false)
    /// Signalled by the listening thread as it ends, so `stop()` returns only once it is gone.
    private let finished = DispatchSemaphore(value: 0)

    /// Binds `path`, or the abstract name after `@` (as `NOTIFY_SOCKET=@name` gives it).
    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 } else { bytes.append(0) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw E2EError("cannot bind \(path)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stopped.withLock({ $0 }) {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 {
                    let text = String(decoding: buffer[0..<count], as: UTF8.self)
                    // Each message wakes the waiters it satisfies: they wait on the datagram, not on a timer.
                    let woken = state.withLock { state -> [(CheckedContinuation<Int, any Error>, Int)] in
                        state.messages.append((ContinuousClock.now, text))
                        var woken: [(CheckedContinuation<Int, any Error>, Int)] = []
                        for (id, waiter) in state.waiters {
                            guard let index = state.match(waiter.text, after: waiter.after) else { continue }
                            state.waiters.removeValue(forKey: id)
                            woken.append((waiter.continuation, index))
                        }
                        return woken
                    }
                    for (continuation, index) in woken { continuation.resume(returning: index) }
                }
            }
            close(fd)
            finished.signal()
        }
    }

    var all: [(at: ContinuousClock.Instant, text: String)] { state.withLock { $0.messages } }

    /// Waits (up to `seconds`) for a message containing `text`; returns its index.
    func waitFor(_ text: String, after index: Int = 0, seconds: Double = 20) async throws -> Int {
        do {
            return try await withTimeout(seconds, "a NOTIFY_SOCKET message with \(text)") {
                try await self.nextMatch(text, after: index)
            }
        } catch let error as E2EError {
            throw E2EError("\(error.description); got \(all.map(\.text))")
        }
    }

    /// Resumes once a message at or after `after` holds `text` (at once if one does already).
    private func nextMatch(_ text: String, after: Int) async throws -> Int {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let found = state.withLock { state -> Int? in
                    if let index = state.match(text, after: after) { return index }
                    if Task.isCancelled { return -1 }
                    state.waiters[id] = Waiter(text: text, after: after, continuation: continuation)
                    return nil
                }
                if let found {
                    if found < 0 {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        continuation.resume(returning: found)
                    }
                }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Stops the listening thread and waits for it (it notices within its 100 ms receive timeout).
    func stop() {
        stopped.withLock { $0 = true }
        finished.wait()
    }
}

@Suite(.serialized) struct SystemdTests {
    func startDaemon(_ work: URL, listener: NotifyListener, extra: [String: String] = [:]) async throws -> ChildProcess
    {
        var environment = ProcessInfo.processInfo.environment
        environment["KINSTA_API_KEY"] = "k"
        environment["KINSTA_API_BASE_URL"] = "http://127.0.0.1:1/v2"
        environment["KINSTA_OPSD_STATE_DIR"] = work.appendingPathComponent("state").path
        environment["KINSTA_OPSD_SOCKET"] = work.appendingPathComponent("s.sock").path
        environment["NOTIFY_SOCKET"] = listener.path
        environment["WATCHDOG_USEC"] = "300000"
        environment.removeValue(forKey: "WATCHDOG_PID")
        for (key, value) in extra { environment[key] = value }
        return try ChildProcess(
            BuiltProducts.executable("kinsta-opsd"),
            [],
            environment: environment,
            name: "kinsta-opsd"
        )
    }

    @Test(.timeLimit(.minutes(1)))
    func notifyProtocol() async throws {
        let work = try shortTemporaryDirectory("ko-nt")
        defer { try? FileManager.default.removeItem(at: work) }
        let listener = try NotifyListener(path: work.appendingPathComponent("n").path)
        defer { listener.stop() }
        let daemon = try await startDaemon(work, listener: listener)
        defer { daemon.signal(SIGKILL) }

        // READY=1 comes once the socket accepts connections, with its mode set
        let ready = try await listener.waitFor("READY=1")
        #expect(SocketProbe.canConnect(work.appendingPathComponent("s.sock").path))
        let attributes = try FileManager.default.attributesOfItem(atPath: work.appendingPathComponent("s.sock").path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        // STATUS= with the counts, and WATCHDOG=1 at about half the interval (150 ms), repeatedly
        _ = try await listener.waitFor("STATUS=0 in flight, 0 queued")
        let first = try await listener.waitFor("WATCHDOG=1", after: ready)
        let second = try await listener.waitFor("WATCHDOG=1", after: first + 1)
        let third = try await listener.waitFor("WATCHDOG=1", after: second + 1)
        let gap = listener.all[third].at - listener.all[second].at
        #expect(gap < .milliseconds(300), "pings \(gap) apart with a 300 ms watchdog")
        // SIGTERM: STOPPING=1, then a clean exit
        daemon.signal(SIGTERM)
        _ = try await listener.waitFor("STOPPING=1", after: ready)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func watchdogPingsStopWhenTheWorkLoopIsStuck() async throws {
        let work = try shortTemporaryDirectory("ko-wd")
        defer { try? FileManager.default.removeItem(at: work) }
        let listener = try NotifyListener(path: work.appendingPathComponent("n").path)
        defer { listener.stop() }
        let daemon = try await startDaemon(work, listener: listener, extra: ["KINSTA_OPSD_FAILPOINT": "stall-poller"])
        defer { daemon.signal(SIGKILL) }
        _ = try await listener.waitFor("READY=1")
        _ = try await withTimeout(20, "the stall") {
            try await daemon.waitForLine { $0.contains("failpoint stall-poller") }
        }
        let pingsAtStall = listener.all.filter { $0.text.contains("WATCHDOG=1") }.count
        // The socket still answers, but no ping comes for over three watchdog intervals: systemd would restart it
        #expect(SocketProbe.canConnect(work.appendingPathComponent("s.sock").path))
        try await Task.sleep(for: .seconds(1))  // observing an absence takes time; nothing to wait on instead
        #expect(listener.all.filter { $0.text.contains("WATCHDOG=1") }.count == pingsAtStall)
    }

    @Test(.timeLimit(.minutes(1)))
    func abstractNotifySocketsWorkToo() async throws {
        let work = try shortTemporaryDirectory("ko-ab")
        defer { try? FileManager.default.removeItem(at: work) }
        let listener = try NotifyListener(path: "@kinsta-opsd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { listener.stop() }
        let daemon = try await startDaemon(work, listener: listener)
        defer { daemon.signal(SIGKILL) }
        _ = try await listener.waitFor("READY=1")
        daemon.signal(SIGTERM)
        _ = try await listener.waitFor("STOPPING=1")
        #expect(await daemon.waitForExit() == 0)
    }

    /// The shipped unit passes `systemd-analyze verify` and scores ≤ 2.0 on `systemd-analyze security`.
    @Test func shippedUnitVerifiesAndIsHardened() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            Issue.record("systemd-analyze is missing: install systemd to check the unit")
            return
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let work = try shortTemporaryDirectory("ko-unit")
        defer { try? FileManager.default.removeItem(at: work) }
        let unit = try String(contentsOf: repo.appendingPathComponent("systemd/kinsta-opsd.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/kinsta-opsd", with: BuiltProducts.executable("kinsta-opsd").path)
        let unitPath = work.appendingPathComponent("kinsta-opsd.service").path
        try unit.write(toFile: unitPath, atomically: false, encoding: .utf8)

        let verify = try await run("/usr/bin/systemd-analyze", ["verify", unitPath])
        #expect(verify.status == 0)
        // Unknown keys and bad values are only warnings with status 0: any output is a failure.
        #expect(verify.output.isEmpty, "systemd-analyze verify said: \(verify.output)")

        let security = try await run("/usr/bin/systemd-analyze", ["security", "--offline=true", unitPath])
        let line = try #require(security.output.first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
        #expect(score <= 2.0, "\(line)")
    }

    /// Runs a tool to its end and returns its status and its output lines (stdout and stderr together).
    func run(_ tool: String, _ arguments: [String]) async throws -> (status: Int32, output: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments + ["--no-pager"]
        var environment = ProcessInfo.processInfo.environment
        environment["SYSTEMD_PAGER"] = "cat"
        environment["SYSTEMD_COLORS"] = "0"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
                continuation.resume(returning: (process.terminationStatus, lines.filter { !$0.isEmpty }))
            }
        }
    }
}

enum SocketProbe {
    static func canConnect(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        } == 0
    }
}
