import Foundation
import Testing

@testable import OpsDaemon

#if canImport(Glibc)
import Glibc
#endif
#if canImport(CDispatch)
import CDispatch  // where this target's Glibc `stat` fields come from (see Sources/OpsDaemon/SocketFile.swift)
#endif

/// The socket reaches its final path without anything there being followed: the race between the daemon's check of
/// the path and its socket's arrival there, played step by step.
@Suite struct SocketPlacementTests {
    func directory() throws -> String {
        var template = Array("/tmp/ko-sp-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw PlacementTestError("mkdtemp failed") }
        return String(cString: made)
    }

    /// Binds and listens at `path`, as Hummingbird does at the placement's bind path.
    func listen(at path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, 4) == 0 else { throw PlacementTestError("cannot listen at \(path)") }
        return fd
    }

    func lstatus(_ path: String) -> stat? {
        var status = stat()
        return lstat(path, &status) == 0 ? status : nil
    }

    @Test func theSocketArrivesWithItsModeAndThePrivateDirectoryGoes() throws {
        let work = try directory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let path = work + "/s.sock"
        let placement = try SocketPlacement.prepare(path)
        let fd = try listen(at: placement.bindPath)
        defer { close(fd) }
        try placement.publish(mode: 0o640, group: nil)
        let status = try #require(lstatus(path))
        #expect(status.st_mode & S_IFMT == S_IFSOCK)
        #expect(status.st_mode & 0o7777 == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: work) == ["s.sock"])
        placement.remove()
        #expect(lstatus(path) == nil)
    }

    @Test func aSymlinkSwappedInAfterTheCheckIsNeitherFollowedNorReplaced() throws {
        guard getuid() == 0 else {
            Issue.record("needs root to give the victim file to nobody")
            return
        }
        let work = try directory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let path = work + "/s.sock"
        let victim = work + "/victim"
        try Data("victim\n".utf8).write(to: URL(fileURLWithPath: victim))
        chown(victim, 65534, 0)
        chmod(victim, 0o600)
        // Given the path checked empty, and the socket bound in the private directory
        let placement = try SocketPlacement.prepare(path)
        defer { placement.remove() }
        let fd = try listen(at: placement.bindPath)
        defer { close(fd) }
        // When a symlink to the victim is swapped in before the socket gets its mode, group and path
        #expect(symlink(victim, path) == 0)
        #expect(throws: DaemonError.self) { try placement.publish(mode: 0o666, group: "nogroup") }
        // Then the victim is as it was and the symlink is still the symlink
        let after = try #require(lstatus(victim))
        #expect(after.st_uid == 65534 && after.st_gid == 0 && after.st_mode & 0o7777 == 0o600)
        #expect(try #require(lstatus(path)).st_mode & S_IFMT == S_IFLNK)
        // And removing the placement leaves the symlink (it is not the daemon's socket)
        placement.remove()
        #expect(lstatus(path) != nil)
    }

    @Test func leftoversOfADaemonKilledWhileStartingAreSwept() throws {
        let work = try directory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        // Given a private directory with a stale socket in it, as a kill between bind and publish leaves
        let placement = try SocketPlacement.prepare(work + "/s.sock")
        close(try listen(at: placement.bindPath))
        // And a directory of that name that is not a leftover (another mode)
        mkdir(work + "/.kinsta-opsd-keep", 0o755)
        SocketPlacement.sweepLeftovers(in: work)
        #expect(try FileManager.default.contentsOfDirectory(atPath: work) == [".kinsta-opsd-keep"])
    }
}

struct PlacementTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
