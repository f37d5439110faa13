import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import OpsCore
public import OpsProtocol
import OpsStore

/// An error answer of the socket API: a status and the JSON body `{"error": {"code", "message", "field"?}}`.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var view: ErrorView
    /// Headers of the answer beyond its content type (`Allow` on a 405).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: ErrorCode, _ message: String, field: String? = nil) {
        self.status = status
        self.view = ErrorView(code: code, message: message, field: field)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        answer
    }

    var answer: Response {
        var response = Response.json(view, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, code: .badRequest, message, field: field)
    }

    static func notFound(_ message: String) -> APIError {
        APIError(.notFound, code: .notFound, message)
    }
}

/// Turns every error into a JSON answer: ``APIError`` as it is, Hummingbird's own errors (unknown route, body too
/// large) by status, anything else as 500 without internals.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Told of every storage fault, so the engine and health see the outage too; `nil` in tests without a store.
    var storage: StorageHealth?
    var now: @Sendable () -> Date = { Date() }

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.answer
        } catch let error where StorageHealth.storageFault(error) != nil {
            // The disk is full (or the file read-only, or failing): nothing was written. Say so, so the client
            // sends again later rather than take a 500 for a bug.
            storage?.recordFailure(error, now: now())
            return Response.json(
                ErrorView(
                    code: .storageUnavailable,
                    message: "the daemon cannot write its database now ("
                        + (StorageHealth.storageFault(error) ?? "storage fault")
                        + "); nothing was stored: send again later"
                ),
                status: .serviceUnavailable
            )
        } catch let error as HTTPParserError {
            // The body could not be read: cut short, or broken chunking. Nothing of it is used.
            return Response.json(
                ErrorView(code: .malformedRequest, message: "the request body could not be read (\(error))"),
                status: .badRequest
            )
        } catch let error as any HTTPResponseError {
            let status = error.status
            let (code, message): (ErrorCode, String) =
                switch status.code {
                case 404: (.notFound, "no such route: \(request.method) \(request.uri.path)")
                case 405: (.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)")
                case 413: (.bodyTooLarge, "request body is larger than \(SocketAPI.maxBodyBytes / 1024) KiB")
                case 400..<500: (.badRequest, "the request could not be read")
                default: (.internal, "the daemon could not answer this request")
                }
            return Response.json(ErrorView(code: code, message: message), status: status)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(describing: type(of: error)))"])
            return Response.json(
                ErrorView(code: .internal, message: "the daemon could not answer this request"),
                status: .internalServerError
            )
        }
    }
}

/// A path some route serves with other methods answers 405 `method_not_allowed` with `Allow`, where the router
/// would answer 404 as for a path it does not know.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each route's method and path template (`/v1/jobs/{id}`).
    var routes: [(method: HTTPRequest.Method, path: String)]

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError where error.status == .notFound {
            let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            let methods = Set(routes.filter { Self.matches($0.path, segments) }.map(\.method.rawValue)).sorted()
            guard !methods.isEmpty else { throw error }
            var refusal = APIError(
                .methodNotAllowed,
                code: .methodNotAllowed,
                "\(request.method) is not allowed on \(request.uri.path); it takes \(methods.joined(separator: ", "))"
            )
            refusal.headers[.allow] = methods.joined(separator: ", ")
            throw refusal
        }
    }

    /// Whether a path's segments fit a template (`{name}` takes any one non-empty segment).
    static func matches(_ template: String, _ segments: ArraySlice<Substring>) -> Bool {
        let parts = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard parts.count == segments.count else { return false }
        return zip(parts, segments).allSatisfy { part, segment in
            part.hasPrefix("{") ? !segment.isEmpty : part == segment
        }
    }
}

extension Response {
    /// A JSON answer encoded the socket API's way.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data =
            (try? WireJSON.encoder().encode(value))
            ?? Data(#"{"error":{"code":"internal","message":"encoding failed"}}"#.utf8)
        var body = ByteBuffer(bytes: data)
        body.writeString("\n")
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    /// A JSON answer that writes itself (the same bytes as ``json(_:status:)``, at a fraction of the CPU).
    static func json(written value: some CanonicalJSONWritable, status: HTTPResponse.Status = .ok) -> Response {
        var writer = CanonicalJSONWriter(reservingCapacity: 1024)
        value.write(to: &writer)
        var body = ByteBuffer(bytes: writer.bytes)
        body.writeString("\n")
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
}
