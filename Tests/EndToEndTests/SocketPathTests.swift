import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif
#if canImport(CDispatch)
import CDispatch  // where this target's Glibc `stat` fields come from (see Sources/OpsDaemon/SocketFile.swift)
#endif

/// What the daemon finds at its socket path: only a stale socket is replaced; anything else is refused with one line
/// naming the path and left exactly as it was, and what a symlink points to is never touched.
@Suite(.serialized) struct SocketPathTests {
    func expectRefusal(_ work: URL, config: String = "", saying words: String) async throws {
        let (status, lines) = try await AtRest.refusal(work, config: config)
        let socket = work.appendingPathComponent("s.sock").path
        #expect(status == 1)
        #expect(lines.count == 1, "\(lines)")
        let line = lines.first ?? ""
        #expect(line.contains("cannot start") && line.contains(socket) && line.contains(words), "\(line)")
        #expect(try Self.leftovers(work).isEmpty)
    }

    /// Private bind directories left beside the socket.
    static func leftovers(_ work: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix(".kinsta-opsd-") }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRegularFileAtTheSocketPathIsRefusedAndKept() async throws {
        let work = try shortTemporaryDirectory("ko-sf")
        defer { try? FileManager.default.removeItem(at: work) }
        let socket = work.appendingPathComponent("s.sock")
        try Data("not a socket\n".utf8).write(to: socket)
        try await expectRefusal(work, saying: "regular file")
        #expect(try Data(contentsOf: socket) == Data("not a socket\n".utf8))
    }

    @Test(.timeLimit(.minutes(1)))
    func aSymlinkAtTheSocketPathIsRefusedAndItsTargetUntouched() async throws {
        guard getuid() == 0 else {
            Issue.record("needs root to give the victim file to nobody")
            return
        }
        let work = try shortTemporaryDirectory("ko-sl")
        defer { try? FileManager.default.removeItem(at: work) }
        // Given a victim file nobody:root 0600, and the socket path a symlink to it
        let victim = work.appendingPathComponent("victim").path
        try Data("victim\n".utf8).write(to: URL(fileURLWithPath: victim))
        chown(victim, 65534, 0)
        chmod(victim, 0o600)
        let socket = work.appendingPathComponent("s.sock").path
        #expect(symlink(victim, socket) == 0)
        // When the daemon would give its socket to nogroup, 0666
        try await expectRefusal(
            work,
            config: "[daemon]\nsocket_mode = \"0666\"\nsocket_group = \"nogroup\"\n",
            saying: "symbolic link"
        )
        // Then the victim keeps its owner, group, mode and bytes, and the symlink is still there
        let after = try #require(AtRest.status(victim))
        #expect(after.st_uid == 65534 && after.st_gid == 0)
        #expect(after.st_mode & 0o7777 == 0o600)
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == Data("victim\n".utf8))
        #expect((AtRest.status(socket)?.st_mode ?? 0) & S_IFMT == S_IFLNK)
    }

    @Test(.timeLimit(.minutes(1)))
    func aLiveSocketIsRefusedAndItsListenerStillAnswers() async throws {
        let work = try shortTemporaryDirectory("ko-sv")
        defer { try? FileManager.default.removeItem(at: work) }
        let socket = work.appendingPathComponent("s.sock").path
        let listener = try AtRest.bindSocket(socket, listen: true)
        defer { close(listener) }
        let inode = try #require(AtRest.status(socket)).st_ino
        try await expectRefusal(work, saying: "already listening")
        #expect(AtRest.status(socket)?.st_ino == inode)
        #expect(SocketProbe.canConnect(socket))
    }

    @Test(.timeLimit(.minutes(1)))
    func aStaleSocketIsReplacedAndOnlyTheDaemonsOwnIsRemovedAtExit() async throws {
        let work = try shortTemporaryDirectory("ko-ss")
        defer { try? FileManager.default.removeItem(at: work) }
        let socket = work.appendingPathComponent("s.sock").path
        // Given a socket nobody answers on (its process died)
        close(try AtRest.bindSocket(socket, listen: false))
        let stale = try #require(AtRest.status(socket)).st_ino
        #expect(!SocketProbe.canConnect(socket))
        // Then the daemon replaces it, with its mode, and leaves no private directory behind
        let daemon = try AtRest.daemon(work)
        defer { daemon.signal(SIGKILL) }
        _ = try await withTimeout(30, "kinsta-opsd") { try await daemon.waitForListening() }
        let mine = try #require(AtRest.status(socket))
        #expect(AtRest.isSocket(mine) && mine.st_ino != stale)
        #expect(mine.st_mode & 0o7777 == 0o660)
        #expect(SocketProbe.canConnect(socket))
        #expect(try Self.leftovers(work).isEmpty)
        // And on SIGTERM its own socket is removed
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        #expect(AtRest.status(socket) == nil)
    }

    @Test(.timeLimit(.minutes(1)))
    func atExitASocketThatIsNoLongerTheDaemonsIsLeftAlone() async throws {
        let work = try shortTemporaryDirectory("ko-so")
        defer { try? FileManager.default.removeItem(at: work) }
        let socket = work.appendingPathComponent("s.sock").path
        let daemon = try AtRest.daemon(work)
        defer { daemon.signal(SIGKILL) }
        _ = try await withTimeout(30, "kinsta-opsd") { try await daemon.waitForListening() }
        // Given another listener that took the path meanwhile
        unlink(socket)
        let other = try AtRest.bindSocket(socket, listen: true)
        defer { close(other) }
        let inode = try #require(AtRest.status(socket)).st_ino
        // Then the daemon's exit leaves it in place
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        #expect(AtRest.status(socket)?.st_ino == inode)
        #expect(SocketProbe.canConnect(socket))
    }
}
