public import Hummingbird
public import Logging
import NIOCore
public import OpsStore

/// The request context of the socket API: Hummingbird's core storage plus the connection, so handlers can ask who
/// is on the other end (`SO_PEERCRED`).
public struct PeerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection; `nil` for a request driven through the router in process (``init(peer:logger:)``).
    let channel: (any Channel)?
    /// The peer a context without a connection reports.
    private let givenPeer: Peer?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.givenPeer = nil
    }

    /// A context with no connection, for running a request through the router's responder in process (tests, with
    /// `OpsTestSupport`'s `RouterDriver`): ``peer()`` answers `peer`, as the kernel answers for a client on the socket.
    public init(peer: Peer?, logger: Logger) {
        var logger = logger
        logger[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
        self.coreContext = .init(source: Detached(logger: logger))
        self.channel = nil
        self.givenPeer = peer
    }

    /// What a context without a connection is made from.
    private struct Detached: RequestContextSource {
        let logger: Logger
    }

    /// Bodies are read with an explicit limit (64 KiB, answered 413 beyond it).
    public var maxUploadSize: Int { SocketAPI.maxBodyBytes }

    /// The peer's uid, gid and pid, from the kernel; `nil` on transports without them (TCP). Recorded once per
    /// connection by ``PeerCredentialHandler``; read from the connection (a hop to its event loop) when it is not.
    func peer() async -> Peer? {
        guard let channel else { return givenPeer }
        if let recorded = PeerCredentials.shared.peer(of: channel) { return recorded }
        return (try? await PeerCredentials.read(channel).get()) ?? nil
    }
}
