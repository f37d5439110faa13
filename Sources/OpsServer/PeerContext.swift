public import Hummingbird
import NIOCore
import OpsStore

#if canImport(Glibc)
import Glibc
#endif

/// The request context of the socket API: Hummingbird's core storage plus the connection, so handlers can ask who
/// is on the other end (`SO_PEERCRED`).
public struct PeerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// Bodies are read with an explicit limit (64 KiB, answered 413 beyond it).
    public var maxUploadSize: Int { SocketAPI.maxBodyBytes }

    /// The peer's uid, gid and pid, from the kernel; `nil` on transports without them (TCP).
    func peer() async -> Peer? {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        // `struct ucred` needs _GNU_SOURCE and is not visible from Swift's Glibc module: mirror its layout.
        struct UCred {
            var pid: Int32 = 0
            var uid: UInt32 = 0
            var gid: UInt32 = 0
        }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        )
        guard let credentials = try? await future.get() else { return nil }
        return Peer(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid)
        #else
        return nil
        #endif
    }
}
