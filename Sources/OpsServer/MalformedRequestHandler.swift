import Foundation
import HTTPTypes
public import NIOCore
import NIOHTTP1
public import NIOHTTPTypes
import OpsProtocol

/// Answers bytes that are not an HTTP request (a garbage request line, a header without a colon, two different
/// `Content-Length`s) with the socket API's JSON error, where Hummingbird would send an empty 400: every answer of the
/// socket is JSON, so a client's error handling has one shape to read.
///
/// It speaks when no answer is being written: between requests, and inside a request whose body cannot be parsed
/// (then the rest of the request, and whatever its route writes later, is dropped). An answer already under way is
/// never interleaved with. Either way the connection is closed afterwards, as the parser cannot find the next
/// request.
public final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private var readingRequest = false
    private var writingResponse = false
    private var answered = false
    /// A CONNECT request is being refused: its parts go no further.
    private var refusing = false
    /// A request's body could not be parsed: the connection ends once its answer is written. Left open, the server's
    /// loop would go on reading a stream the parser has given up on (and spin on it).
    private var closeAfterAnswer = false

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part, head.method == .connect, !writingResponse {
            // A tunnel request has no place on this socket; below, its answer would lose its body.
            refusing = true
            answer(
                context,
                status: .methodNotAllowed,
                code: .methodNotAllowed,
                message: "CONNECT is not served on this socket"
            )
            return
        }
        if refusing { return }
        switch part {
        case .head: readingRequest = true
        case .end: readingRequest = false
        case .body: break
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if answered {
            // This handler answered already (and closes the connection): the route's late answer goes nowhere.
            promise?.succeed(())
            return
        }
        switch unwrapOutboundIn(data) {
        case .head: writingResponse = true
        case .body: break
        case .end:
            writingResponse = false
            if closeAfterAnswer {
                let channel = context.channel
                context.writeAndFlush(data).whenComplete { _ in channel.close(promise: nil) }
                promise?.succeed()
                return
            }
        }
        context.write(data, promise: promise)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if writingResponse {
            // An answer is under way: it is never interleaved with; the connection ends once it is written.
            closeAfterAnswer = true
            context.fireErrorCaught(error)
            return
        }
        if readingRequest {
            // Inside a request's body, and nothing written yet: answered here. Passed on, the error would reach the
            // route only through its body stream, and the connection could be closed before the route's answer
            // went out (the socket fuzz saw it under load: no answer at all). The rest of the request is dropped,
            // and so is anything the route writes afterwards.
            refusing = true
            answer(
                context,
                status: .badRequest,
                code: .malformedRequest,
                message: "the request body could not be read (\(error))"
            )
            return
        }
        answer(
            context,
            status: .badRequest,
            code: .malformedRequest,
            message: "the bytes sent are not an HTTP/1.1 request (\(error))"
        )
    }

    /// Writes one JSON error and closes the connection (once per connection).
    private func answer(_ context: ChannelHandlerContext, status: HTTPResponse.Status, code: ErrorCode, message: String)
    {
        guard !answered else { return }
        answered = true
        let view = ErrorView(code: code, message: message)
        var body = context.channel.allocator.buffer(capacity: 256)
        body.writeBytes((try? WireJSON.encoder().encode(view)) ?? Data(#"{"error":{"code":"malformed_request"}}"#.utf8))
        body.writeString("\n")
        let head = HTTPResponse(
            status: status,
            headerFields: [
                .contentType: "application/json", .contentLength: "\(body.readableBytes)", .connection: "close",
            ]
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
