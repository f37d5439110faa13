public import NIOCore
import OpsStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The peer of each open connection (`SO_PEERCRED`), read once on the connection's event loop when it opens.
///
/// The kernel records a Unix socket's peer credentials when the client connects, and they never change while the
/// connection is open, so one read per connection is the same answer as one per request. Asked from a request's
/// task, reading them cost a round trip to the connection's event loop and back: two thread switches on every
/// submission. ``PeerContext/peer()`` now looks here first.
public final class PeerCredentials: Sendable {
    /// One table for the process: a connection is known by its channel, whatever daemon serves it.
    public static let shared = PeerCredentials()

    private let peers = Mutex<[ObjectIdentifier: Peer]>([:])

    /// A table of its own (tests); the daemon uses ``shared``, which ``PeerContext`` reads.
    public init() {}

    /// A handler for a connection's pipeline that records its peer while it is open.
    public func handler() -> PeerCredentialHandler { PeerCredentialHandler(table: self) }

    /// The recorded peer of `channel`, or `nil` if none was recorded (not a Unix socket, or already closed).
    func peer(of channel: any Channel) -> Peer? {
        peers.withLock { $0[ObjectIdentifier(channel)] }
    }

    fileprivate func record(_ peer: Peer, for channel: any Channel) {
        peers.withLock { $0[ObjectIdentifier(channel)] = peer }
    }

    fileprivate func forget(_ channel: any Channel) {
        _ = peers.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// `SO_PEERCRED` of `channel`, read on its event loop (where NIO answers at once, with no hop).
    static func read(_ channel: any Channel) -> EventLoopFuture<Peer?> {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
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
        return future.map { Peer(uid: $0.uid, gid: $0.gid, pid: $0.pid) }.recover { _ in nil }
        #else
        return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }
}

/// Records its connection's peer in ``PeerCredentials`` when the connection is active, and forgets it when the
/// connection closes or the handler leaves the pipeline.
public final class PeerCredentialHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    private let table: PeerCredentials
    private var recorded = false

    init(table: PeerCredentials) { self.table = table }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { record(context.channel) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        record(context.channel)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        forget(context.channel)
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        forget(context.channel)
    }

    private func record(_ channel: any Channel) {
        guard !recorded else { return }
        recorded = true
        let table = self.table
        // On the event loop the option is read at once, so the peer is recorded before the first request is read.
        PeerCredentials.read(channel).whenSuccess { peer in
            if let peer { table.record(peer, for: channel) }
        }
    }

    private func forget(_ channel: any Channel) {
        guard recorded else { return }
        recorded = false
        table.forget(channel)
    }
}
