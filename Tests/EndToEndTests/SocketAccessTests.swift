import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Who may use the socket: its file mode refuses users outside its group at connect, and `allowed_uids` refuses
/// others with 403. A second uid comes from `setpriv` (as `nobody`), so this runs as root, as CI does.
@Suite(.serialized) struct SocketAccessTests {
    func daemon(_ work: URL, config: String) async throws -> (ChildProcess, String) {
        let configPath = work.appendingPathComponent("c.toml").path
        try config.write(toFile: configPath, atomically: false, encoding: .utf8)
        // The client (as nobody) must reach the socket's directory.
        chmod(work.path, 0o755)
        var environment = ProcessInfo.processInfo.environment
        environment["KINSTA_API_KEY"] = "k"
        environment["KINSTA_OPSD_STATE_DIR"] = work.appendingPathComponent("state").path
        let socket = work.appendingPathComponent("s.sock").path
        environment["KINSTA_OPSD_SOCKET"] = socket
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        let process = try ChildProcess(
            BuiltProducts.executable("kinsta-opsd"),
            ["--config", configPath],
            environment: environment,
            name: "kinsta-opsd"
        )
        _ = try await withTimeout(30, "kinsta-opsd") { try await process.waitForListening() }
        return (process, socket)
    }

    /// `kinsta-ops jobs` as `nobody`: (exit status, output).
    func opsAsNobody(_ socket: String) async throws -> (Int32, [String]) {
        // The CLI binary must be reachable and runnable by nobody: copy it next to the socket.
        let cli = URL(fileURLWithPath: socket).deletingLastPathComponent().appendingPathComponent("kinsta-ops")
        if !FileManager.default.fileExists(atPath: cli.path) {
            try Self.copyExecutable(BuiltProducts.executable("kinsta-ops"), to: cli)
        }
        let process = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=65534", "--regid=65534", "--clear-groups", cli.path, "jobs", "--socket", socket],
            environment: ProcessInfo.processInfo.environment,
            name: "kinsta-ops as nobody"
        )
        let status = await process.waitForExit()
        await process.waitForOutputEnd()
        return (status, process.output)
    }

    /// Copies a binary through an `O_CLOEXEC` descriptor: a process that another test spawns meanwhile must not inherit
    /// it open for writing, or executing the copy fails with "text file busy".
    static func copyExecutable(_ source: URL, to destination: URL) throws {
        let bytes = try Data(contentsOf: source)
        let fd = open(destination.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw E2EError("cannot create \(destination.path)") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw E2EError("short write to \(destination.path)") }
    }

    @Test(.timeLimit(.minutes(1)))
    func theSocketRefusesUsersOutsideItsGroup() async throws {
        guard getuid() == 0 else {
            Issue.record("needs root to act as a second user with setpriv")
            return
        }
        let work = try shortTemporaryDirectory("ko-acc")
        defer { try? FileManager.default.removeItem(at: work) }
        let (daemon, socket) = try await daemon(work, config: "")
        defer { daemon.signal(SIGKILL) }
        // Mode 0660, owned by root's group: nobody is refused by the kernel at connect
        let (status, output) = try await opsAsNobody(socket)
        #expect(status == 3, "\(output)")
        #expect(output.joined().contains("permission denied"))
    }

    @Test(.timeLimit(.minutes(1)))
    func theSocketBelongsToTheConfiguredGroup() async throws {
        guard getuid() == 0 else {
            Issue.record("needs root to give the socket to another group")
            return
        }
        let work = try shortTemporaryDirectory("ko-grp")
        defer { try? FileManager.default.removeItem(at: work) }
        let (daemon, socket) = try await daemon(work, config: "[daemon]\nsocket_group = \"nogroup\"\n")
        defer { daemon.signal(SIGKILL) }
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.intValue == 65534)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        // A member of that group gets in; the socket's mode is what lets it
        let cli = work.appendingPathComponent("kinsta-ops")
        try Self.copyExecutable(BuiltProducts.executable("kinsta-ops"), to: cli)
        let member = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=65534", "--regid=65534", "--clear-groups", cli.path, "health", "--socket", socket],
            environment: ProcessInfo.processInfo.environment,
            name: "kinsta-ops as nogroup"
        )
        #expect(await member.waitForExit() == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func allowedUIDsRefuseOthersWith403() async throws {
        guard getuid() == 0 else {
            Issue.record("needs root to act as a second user with setpriv")
            return
        }
        let work = try shortTemporaryDirectory("ko-acl")
        defer { try? FileManager.default.removeItem(at: work) }
        // Anyone may connect (0666), but only uid 4242 (and root, and the daemon's user) may use it
        let (daemon, socket) = try await daemon(
            work,
            config: "[daemon]\nsocket_mode = \"0666\"\nallowed_uids = [4242]\n"
        )
        defer { daemon.signal(SIGKILL) }
        let (status, output) = try await opsAsNobody(socket)
        #expect(status == 2, "\(output)")
        #expect(output.joined().contains("may not use this daemon"))
        _ = try await withTimeout(10, "the refusal in the log") {
            try await daemon.waitForLine { $0.contains("socket request refused") && $0.contains("peer.uid=65534") }
        }
    }
}
