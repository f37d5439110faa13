public import CurlHTTP
public import Foundation
import HTTPTypes
import Hummingbird
public import KinstaClient
import NIOCore
import OpsCore
public import OpsDaemon
public import OpsServer
public import OpsStore
import Synchronization

/// The socket API's routes driven in this process, with no socket and no daemon: each request goes through
/// `SocketAPI.buildRouter()`'s responder (every middleware, the JSON error mapping, the routes) with a `PeerContext`
/// that has no connection, and the whole answer is collected. A table of requests then costs a database, not a daemon
/// per row. What only a connection shows (the kernel's peer credentials, the connection limit, bytes that are not
/// HTTP, the idle timeout, follow streams, the socket file) stays tested on the real socket (``InProcessDaemon``).
public struct RouterDriver: Sendable {
    public let api: SocketAPI
    /// Who the requests come from: by default this process, as the kernel reports a client on the socket.
    public var peer: Peer?
    let responder: RouterResponder<PeerContext>

    public init(api: SocketAPI, peer: Peer? = Peer(uid: getuid(), gid: getgid(), pid: getpid())) {
        self.api = api
        self.peer = peer
        responder = api.buildRouter().buildResponder()
    }

    /// The socket API as the daemon builds it from `configuration` (its poll policy, company and parameter
    /// defaults, peer access), over `database`, with `kinsta` for the read-through routes. What only the running
    /// daemon knows (its request budget, the key's check, the region lists, the webhook endpoints, metrics) is left
    /// out: health shows no extras, every region is taken, no webhook is known, `/metrics` is 404.
    public static func socketAPI(
        database: OpsDatabase,
        configuration: DaemonConfiguration = InProcessDaemon.configuration(in: "/nonexistent"),
        kinsta: (any KinstaAPI)? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) -> SocketAPI {
        SocketAPI(
            database: database,
            machine: JobMachine(policy: configuration.pollPolicy),
            defaultCompany: configuration.companyID,
            version: OpsVersion.current,
            startedAt: now(),
            now: now,
            kinsta: kinsta,
            access: PeerAccess(uids: configuration.allowedUIDs, gids: configuration.allowedGroups),
            paramDefaults: configuration.paramDefaults,
            heldKinds: configuration.approvalKinds,
            distinctApprover: configuration.distinctApprover,
            logger: .quiet
        )
    }

    /// Runs `body` with a driver over a fresh in-memory database and the socket API ``socketAPI(database:configuration:kinsta:now:)``
    /// builds.
    public static func with<T>(
        kinsta: (any KinstaAPI)? = nil,
        configure: (inout DaemonConfiguration) -> Void = { _ in },
        _ body: (RouterDriver) async throws -> T
    ) async throws -> T {
        var configuration = InProcessDaemon.configuration(in: "/nonexistent")
        configure(&configuration)
        let database = try OpsDatabase.inMemory()
        return try await body(
            RouterDriver(api: socketAPI(database: database, configuration: configuration, kinsta: kinsta))
        )
    }

    /// Runs `request` (its method, the path and query of its URL, its headers and body) through the responder and
    /// collects the answer. The host, timeout and socket path of the request are not used.
    public func execute(_ request: CurlHTTP.HTTPRequest) async throws -> CurlHTTP.HTTPResponse {
        let url = URLComponents(string: request.url)
        let query = url?.percentEncodedQuery.map { "?\($0)" } ?? ""
        let path = (url?.percentEncodedPath ?? "/") + query
        var fields = HTTPFields()
        for header in request.headers {
            guard let name = HTTPField.Name(header.name) else { continue }
            fields.append(HTTPField(name: name, value: header.value))
        }
        if let body = request.body { fields[.contentLength] = "\(body.count)" }
        let head = HTTPTypes.HTTPRequest(
            method: HTTPTypes.HTTPRequest.Method(request.method) ?? .get,
            scheme: "http",
            authority: "localhost",
            path: path,
            headerFields: fields
        )
        let hummingbirdRequest = Request(
            head: head,
            body: RequestBody(buffer: ByteBuffer(bytes: request.body ?? Data()))
        )
        let context = PeerContext(peer: peer, logger: .quiet)
        let response: Response
        do {
            response = try await responder.respond(to: hummingbirdRequest, context: context)
        } catch let error as any HTTPResponseError {
            // What the server does with an error no middleware turned into an answer.
            response = try error.response(from: hummingbirdRequest, context: context)
        }
        let collector = Collector()
        try await response.body.write(collector)
        return CurlHTTP.HTTPResponse(
            status: response.status.code,
            headers: response.headers.map { HTTPHeader($0.name.rawName, $0.value) },
            body: collector.bytes.withLock { Data($0) }
        )
    }

    /// Gathers a response body's bytes.
    final class Collector: ResponseBodyWriter, Sendable {
        let bytes = Mutex<[UInt8]>([])

        func write(_ buffer: ByteBuffer) async throws {
            bytes.withLock { $0 += buffer.readableBytesView }
        }

        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}
