import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process of the test (the real `kinsta-sim`, `kinsta-opsd` or `kinsta-ops`), with its output (stdout and
/// stderr together) delivered line by line as it is written, so tests wait on what a process says rather than on time.
///
/// Spawned with `posix_spawn`, read by one thread and reaped by another (`waitpid`): Foundation's `Process` crashed
/// the test process at exit now and then, so it is not used.
final class ChildProcess: Sendable {
    let name: String
    let pid: pid_t
    private struct Waiter {
        var predicate: @Sendable (String) -> Bool
        var continuation: CheckedContinuation<String, any Error>
    }

    private let lines = Mutex<[String]>([])
    private let waiters = Mutex<(next: Int, all: [Int: Waiter])>((0, [:]))
    /// Set when the output pipe reached its end.
    private let ended = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    /// The exit status once reaped (the signal number if a signal ended it, as a shell reports it minus 128).
    private let exit = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    init(_ executable: URL, _ arguments: [String], environment: [String: String], name: String) throws {
        self.name = name
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw E2EError("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable.path, &actions, nil, argv, envp)
        close(fds[1])
        guard result == 0 else {
            close(fds[0])
            throw E2EError("cannot start \(executable.path): \(String(cString: strerror(result)))")
        }
        pid = child
        let readFD = fds[0]
        Thread.detachNewThread { [self] in self.readOutput(readFD) }
        Thread.detachNewThread { [self] in self.reap() }
    }

    private func readOutput(_ fd: Int32) {
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: 0x0A) {
                received(String(decoding: pending[0..<newline], as: UTF8.self))
                pending.removeSubrange(0...newline)
            }
        }
        close(fd)
        if !pending.isEmpty { received(String(decoding: pending, as: UTF8.self)) }
        let waiting = ended.withLock { ended in
            ended.done = true
            defer { ended.waiters = [] }
            return ended.waiters
        }
        for waiter in waiting { waiter.resume() }
    }

    private func reap() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let signal = status & 0x7f
        let code = signal == 0 ? (status >> 8) & 0xff : signal
        let waiting = exit.withLock { exit in
            exit.status = code
            defer { exit.waiters = [] }
            return exit.waiters
        }
        for waiter in waiting { waiter.resume(returning: code) }
    }

    private func received(_ line: String) {
        lines.withLock { $0.append(line) }
        let ready = waiters.withLock { waiters in
            let matched = waiters.all.filter { $0.value.predicate(line) }
            for id in matched.keys { waiters.all.removeValue(forKey: id) }
            return matched.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: line) }
    }

    /// Everything the process printed so far.
    var output: [String] { lines.withLock { $0 } }

    /// Waits for a line matching `predicate` (already printed, or to come).
    func waitForLine(where predicate: @escaping @Sendable (String) -> Bool) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            let id = waiters.withLock { waiters -> Int in
                waiters.next += 1
                waiters.all[waiters.next] = Waiter(predicate: predicate, continuation: continuation)
                return waiters.next
            }
            // Lines printed before the waiter registered are looked up after, so none slips between the two.
            if let earlier = lines.withLock({ $0.first(where: predicate) }),
                waiters.withLock({ $0.all.removeValue(forKey: id) }) != nil
            {
                continuation.resume(returning: earlier)
            }
        }
    }

    /// Waits until the process's output has been read to its end.
    func waitForOutputEnd() async {
        await withCheckedContinuation { continuation in
            let done = ended.withLock { ended -> Bool in
                if !ended.done { ended.waiters.append(continuation) }
                return ended.done
            }
            if done { continuation.resume() }
        }
    }

    var isRunning: Bool { exit.withLock { $0.status == nil } }

    func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits for the process to end: its exit code, or the number of the signal that ended it.
    func waitForExit() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status = exit.withLock { exit -> Int32? in
                if exit.status == nil { exit.waiters.append(continuation) }
                return exit.status
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    deinit {
        if isRunning { kill(pid, SIGKILL) }
    }
}

/// Where `swift build`/`swift test` put the executables: beside the test bundle.
enum BuiltProducts {
    static var directory: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = exe.deletingLastPathComponent()
        // The test binary lives in …/debug/kinsta-opsdPackageTests.xctest (a file on Linux).
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("kinsta-opsd").path),
            directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory
    }

    static func executable(_ name: String) -> URL { directory.appendingPathComponent(name) }
}

/// A short temporary directory (Unix socket paths must stay under 108 bytes).
func shortTemporaryDirectory(_ prefix: String) throws -> URL {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw E2EError("mkdtemp failed") }
    return URL(fileURLWithPath: String(cString: made))
}

struct E2EError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, failing with `what` if it takes longer than `seconds` (so a broken daemon fails the test, not hangs it).
func withTimeout<T: Sendable>(
    _ seconds: Double,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
)
    async throws -> T
{
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw E2EError("timed out after \(Int(seconds)) s: \(what)")
        }
        return value
    }
}

extension ChildProcess {
    /// Waits for the daemon's own `listening` line, which comes once the socket is at its path with its mode.
    /// Hummingbird's "Server started and listening on socket path …" comes before it, while the socket is still in its
    /// private directory (see SocketPlacement), so a bare "listening" would match too early.
    func waitForListening() async throws -> String {
        try await waitForLine { $0.contains(" listening ") && $0.contains("socket=") }
    }
}
