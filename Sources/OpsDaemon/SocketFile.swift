import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
// Swift's Glibc `stat` struct takes its fields from the first clang module that included <sys/stat.h>, which in this
// target is CDispatch; MemberImportVisibility then asks for that module by name.
#if canImport(CDispatch)
import CDispatch
#endif

/// The socket file, made so that nothing at its path is ever followed, removed or changed unless it is a stale socket.
///
/// Hummingbird binds by path (and unlinks a socket it finds there first), and a mode or group set afterwards by path
/// would follow a symlink swapped in meanwhile. So the daemon binds inside a fresh private directory (`mkdtemp`, 0700,
/// beside the final path): only this user can change what is in it. The socket gets its mode and group there, through
/// the directory's descriptor, and then a hard link gives it its final name: `link(2)` never follows a symlink at its
/// target and never replaces anything (`EEXIST`), so the final path is never written through. The private name and
/// directory are removed at once; on shutdown the final name is removed only if it is still this socket (same inode).
final class SocketPlacement: Sendable {
    /// Where clients connect.
    let path: String
    /// Where Hummingbird binds: `s` in the private directory.
    let bindPath: String
    private let privateDirectory: String
    private let directoryFD: Int32
    /// The socket's device and inode once it is at `path`, and whether ``remove()`` ran (it runs once).
    private let state = Mutex<(published: (dev: UInt64, ino: UInt64)?, removed: Bool)>((nil, false))

    private init(path: String, privateDirectory: String, directoryFD: Int32) {
        self.path = path
        self.privateDirectory = privateDirectory
        self.bindPath = privateDirectory + "/s"
        self.directoryFD = directoryFD
    }

    /// Checks the final path and makes the private directory. Refuses (``DaemonError``) anything at `path` but a stale
    /// socket (one nobody answers on), which is removed.
    static func prepare(_ path: String) throws -> SocketPlacement {
        let directory =
            (path as NSString).deletingLastPathComponent.isEmpty
            ? "." : (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o755]
            )
        }
        try clearStaleSocket(path)
        sweepLeftovers(in: directory)
        var template = Array("\(directory)/.kinsta-opsd-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw DaemonError("cannot create a private directory beside the socket \(path): \(errorText())")
        }
        let privateDirectory = String(cString: made)
        let fd = open(privateDirectory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            rmdir(privateDirectory)
            throw DaemonError("cannot open the private directory \(privateDirectory): \(errorText())")
        }
        let placement = SocketPlacement(path: path, privateDirectory: privateDirectory, directoryFD: fd)
        guard placement.bindPath.utf8.count < 108 else {
            placement.remove()
            throw DaemonError(
                "the socket \(path) is in a directory whose path is too long to bind beside it (\(placement.bindPath)"
                    + " must be under 108 bytes): use a shorter path"
            )
        }
        return placement
    }

    /// What is at `path` now, seen with `lstat` (a symlink is not followed): nothing and a stale socket (removed)
    /// pass; anything else is refused with a line naming it.
    static func clearStaleSocket(_ path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            guard errno == ENOENT else { throw DaemonError("cannot look at the socket path \(path): \(errorText())") }
            return
        }
        let advice = "kinsta-opsd changes nothing there: remove it or set daemon.socket to another path"
        switch status.st_mode & S_IFMT {
        case S_IFSOCK:
            if canConnect(path) {
                throw DaemonError("another daemon is already listening on \(path); not taking its socket")
            }
            // Stale: its daemon is gone (a crash or kill -9 leaves it). Removing the name cannot reach anything else.
            guard unlink(path) == 0 || errno == ENOENT else {
                throw DaemonError("cannot remove the stale socket \(path): \(errorText())")
            }
        case S_IFLNK:
            throw DaemonError("the socket path \(path) is a symbolic link, not a socket; \(advice)")
        case S_IFDIR:
            throw DaemonError("the socket path \(path) is a directory, not a socket; \(advice)")
        case S_IFREG:
            throw DaemonError("the socket path \(path) is a regular file, not a socket; \(advice)")
        default:
            throw DaemonError("the socket path \(path) is not a socket; \(advice)")
        }
    }

    /// Removes private directories that a daemon killed while starting left beside the socket: only this user's,
    /// mode 0700, holding nothing but a socket nobody answers on.
    static func sweepLeftovers(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(".kinsta-opsd-") {
            let candidate = directory + "/" + name
            var status = stat()
            guard lstat(candidate, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, status.st_uid == geteuid(),
                status.st_mode & 0o7777 == 0o700
            else { continue }
            let fd = open(candidate, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var inner = stat()
            if fstatat(fd, "s", &inner, AT_SYMLINK_NOFOLLOW) == 0 {
                guard inner.st_mode & S_IFMT == S_IFSOCK, !canConnect(candidate + "/s") else { continue }
                unlinkat(fd, "s", 0)
            }
            rmdir(candidate)  // fails, harmlessly, if anything else is in it
        }
    }

    /// Once Hummingbird listens at ``bindPath``: sets the socket's group and mode in the private directory, then links
    /// it to ``path``. Clients can connect only after this, and then only with the mode set.
    func publish(mode: UInt16, group: String?) throws {
        var status = stat()
        guard fstatat(directoryFD, "s", &status, AT_SYMLINK_NOFOLLOW) == 0, status.st_mode & S_IFMT == S_IFSOCK else {
            throw DaemonError("the socket bound in \(privateDirectory) is missing or not a socket")
        }
        if let group {
            guard let entry = getgrnam(group) else { throw DaemonError("socket group \(group) does not exist") }
            guard fchownat(directoryFD, "s", uid_t.max, entry.pointee.gr_gid, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw DaemonError("cannot give the socket \(path) to group \(group): \(errorText())")
            }
        }
        // No symlink can be at `s`: it was just seen to be the socket, and only this user may write in the directory.
        guard fchmodat(directoryFD, "s", mode_t(mode), 0) == 0 else {
            throw DaemonError("cannot set the mode of the socket \(path): \(errorText())")
        }
        guard linkat(directoryFD, "s", AT_FDCWD, path, 0) == 0 else {
            let reason =
                errno == EEXIST
                ? "something appeared at that path while the daemon started; it is left alone" : errorText()
            throw DaemonError("cannot put the socket at \(path): \(reason)")
        }
        state.withLock { $0.published = (UInt64(status.st_dev), UInt64(status.st_ino)) }
        removePrivateDirectory()
    }

    /// Removes the private directory, and the socket at ``path`` if it is still the one this daemon published. Runs
    /// once; later calls do nothing.
    func remove() {
        let (published, removed) = state.withLock { state in
            defer { state.removed = true }
            return (state.published, state.removed)
        }
        guard !removed else { return }
        if let mine = published {
            var status = stat()
            if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK, UInt64(status.st_dev) == mine.dev,
                UInt64(status.st_ino) == mine.ino
            {
                unlink(path)
            }
        }
        removePrivateDirectory()
        close(directoryFD)
    }

    private func removePrivateDirectory() {
        unlinkat(directoryFD, "s", 0)
        rmdir(privateDirectory)
    }

    static func canConnect(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}

private func errorText() -> String { String(cString: strerror(errno)) }
