import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process of the test (the real `kinsta-sim` or `kinsta-opsd`), with its output delivered line by line as it
/// is written, so tests wait on what a process says rather than on time.
final class ChildProcess: Sendable {
    let name: String
    private let process: Process
    private let lines: Mutex<[String]> = Mutex([])
    private struct Waiter {
        var predicate: @Sendable (String) -> Bool
        var continuation: CheckedContinuation<String, any Error>
    }

    private let waiters = Mutex<(next: Int, all: [Int: Waiter])>((0, [:]))
    /// Set when the output pipe reached its end (the process and its children closed it).
    private let ended = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Starts `executable` with `arguments` and `environment`; stdout and stderr are both read as lines.
    init(_ executable: URL, _ arguments: [String], environment: [String: String], name: String) throws {
        self.name = name
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        self.process = process
        let buffer = Mutex(Data())
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else {
                handle.readabilityHandler = nil
                return
            }
            guard !chunk.isEmpty else {
                handle.readabilityHandler = nil
                let rest = buffer.withLock { data -> String? in
                    defer { data.removeAll() }
                    return data.isEmpty ? nil : String(decoding: data, as: UTF8.self)
                }
                if let rest { self.received(rest) }
                let waiting = self.ended.withLock { ended in
                    ended.done = true
                    defer { ended.waiters = [] }
                    return ended.waiters
                }
                for waiter in waiting { waiter.resume() }
                return
            }
            let complete: [String] = buffer.withLock { data in
                data.append(chunk)
                var found: [String] = []
                while let newline = data.firstIndex(of: 0x0A) {
                    found.append(String(decoding: data[data.startIndex..<newline], as: UTF8.self))
                    data.removeSubrange(data.startIndex...newline)
                }
                return found
            }
            for line in complete { self.received(line) }
        }
        try process.run()
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

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit and returns its status (blocking a thread outside the cooperative pool).
    func waitForExit() async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                self.process.waitUntilExit()
                continuation.resume(returning: self.process.terminationStatus)
            }
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
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
func withTimeout<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T)
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
