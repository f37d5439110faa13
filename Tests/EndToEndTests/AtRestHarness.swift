import Foundation

#if canImport(Glibc)
import Glibc
#endif
#if canImport(CDispatch)
import CDispatch  // where this target's Glibc `stat` fields come from (see Sources/OpsDaemon/SocketFile.swift)
#endif

/// The daemon binary on a state directory and socket path the test prepared, for the faults at rest: what is at those
/// paths before it starts.
enum AtRest {
    static func daemon(_ work: URL, config: String = "") throws -> ChildProcess {
        let configPath = work.appendingPathComponent("c.toml").path
        try config.write(toFile: configPath, atomically: false, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["KINSTA_API_KEY"] = "k"
        environment["KINSTA_API_BASE_URL"] = "http://127.0.0.1:1/v2"
        environment["KINSTA_OPSD_STATE_DIR"] = work.appendingPathComponent("state").path
        environment["KINSTA_OPSD_SOCKET"] = work.appendingPathComponent("s.sock").path
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        return try ChildProcess(
            BuiltProducts.executable("kinsta-opsd"),
            ["--config", configPath],
            environment: environment,
            name: "kinsta-opsd"
        )
    }

    /// Runs the daemon to its end: its exit status and its non-empty output lines. A daemon that does not refuse (it
    /// starts and keeps running) is killed after 30 s, so the test fails on its status instead of hanging.
    static func refusal(_ work: URL, config: String = "") async throws -> (status: Int32, lines: [String]) {
        let process = try daemon(work, config: config)
        let deadline = Task {
            try await Task.sleep(for: .seconds(30))
            process.signal(SIGKILL)
        }
        let status = await process.waitForExit()
        deadline.cancel()
        await process.waitForOutputEnd()
        return (status, process.output.filter { !$0.isEmpty })
    }

    /// A Unix stream socket bound at `path`, listening when `listen` is set; the caller closes the descriptor. Closed
    /// without listening, it leaves a stale socket file, as a killed daemon does.
    static func bindSocket(_ path: String, listen shouldListen: Bool) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, !shouldListen || listen(fd, 8) == 0 else {
            close(fd)
            throw E2EError("cannot bind \(path)")
        }
        return fd
    }

    /// `lstat` of `path` (a symlink itself, not what it points to).
    static func status(_ path: String) -> stat? {
        var status = stat()
        return lstat(path, &status) == 0 ? status : nil
    }

    static func isSocket(_ status: stat?) -> Bool { status.map { $0.st_mode & S_IFMT == S_IFSOCK } ?? false }
}
