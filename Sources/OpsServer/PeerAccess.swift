import Foundation
import Hummingbird
import Logging
import OpsProtocol
import OpsStore

#if canImport(Glibc)
import Glibc
#endif

/// Who may use the socket beyond what its file mode allows: `allowed_uids` and `allowed_groups` from the
/// configuration. Empty lists allow everyone who can connect. Root and the daemon's own user are always allowed.
public struct PeerAccess: Sendable {
    public var uids: Set<UInt32>
    public var gids: Set<UInt32>

    public init(uids: [UInt32], gids: [UInt32]) {
        self.uids = Set(uids)
        self.gids = Set(gids)
    }

    var restricts: Bool { !uids.isEmpty || !gids.isEmpty }

    func allows(_ peer: Peer?) -> Bool {
        guard restricts else { return true }
        guard let peer else { return false }
        if peer.uid == 0 || peer.uid == getuid() || uids.contains(peer.uid) || gids.contains(peer.gid) { return true }
        return !gids.isDisjoint(with: Self.supplementaryGroups(of: peer.pid))
    }

    /// The peer's supplementary groups, from `/proc/<pid>/status` (`Groups:` line).
    static func supplementaryGroups(of pid: Int32) -> Set<UInt32> {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Groups:") })
        else { return [] }
        return Set(
            line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap {
                UInt32($0)
            }
        )
    }
}

/// Answers 403 to peers that ``PeerAccess`` does not allow, before any route runs.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = PeerContext
    let access: PeerAccess

    func handle(
        _ request: Request,
        context: PeerContext,
        next: (Request, PeerContext) async throws -> Response
    )
        async throws -> Response
    {
        guard access.restricts else { return try await next(request, context) }
        let peer = await context.peer()
        guard access.allows(peer) else {
            context.logger.warning(
                "socket request refused",
                metadata: [
                    "peer.uid": "\(peer?.uid.description ?? "-")", "peer.pid": "\(peer?.pid.description ?? "-")",
                ]
            )
            throw APIError(
                .forbidden,
                code: .forbidden,
                "uid \(peer?.uid.description ?? "?") may not use this daemon (see allowed_uids / allowed_groups)"
            )
        }
        return try await next(request, context)
    }
}
