import Foundation
import HTTPTypes
public import NIOCore
import NIOHTTP1
public import NIOHTTPTypes
import OpsProtocol
import Synchronization

/// How many socket connections are served at once, shared by every connection's ``ConnectionLimitHandler``.
///
/// Without a cap, a flood of clients (1,100 follow streams against an open-file limit of 1,024) takes every file
/// descriptor, and then nothing else can open one: not a Kinsta call, not a webhook, not SQLite. A connection over
/// the cap is refused at once, so the daemon keeps its descriptors for its own work.
public final class ConnectionLimiter: Sendable {
    /// Connections served at once.
    public let maximum: Int
    private let active = Atomic<Int>(0)
    private let refusedTotal = Atomic<Int>(0)
    /// Called on the event loop of the connection that leaves last, whenever the count falls to zero.
    private let onIdle: @Sendable () -> Void

    public init(maximum: Int, onIdle: @escaping @Sendable () -> Void = {}) {
        self.maximum = max(1, maximum)
        self.onIdle = onIdle
    }

    /// Connections being served now.
    public var connections: Int { active.load(ordering: .relaxed) }
    /// Connections refused since the start.
    public var refused: Int { refusedTotal.load(ordering: .relaxed) }

    /// A handler for one new connection (the socket server makes one per connection).
    public func handler() -> ConnectionLimitHandler { ConnectionLimitHandler(limiter: self) }

    /// Takes a place when one is free.
    public func admit() -> Bool {
        var current = active.load(ordering: .relaxed)
        while current < maximum {
            let (exchanged, original) = active.compareExchange(
                expected: current,
                desired: current + 1,
                ordering: .acquiringAndReleasing
            )
            if exchanged { return true }
            current = original
        }
        refusedTotal.add(1, ordering: .relaxed)
        return false
    }

    /// Gives a place back.
    public func release() {
        if active.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { onIdle() }
    }
}

/// Admits a connection while the ``ConnectionLimiter`` has a place, and otherwise refuses it: the first request's
/// head is answered 503 `too_many_connections` (JSON, `Retry-After: 1`, `Connection: close`) and the connection
/// closes; a refused client that sends nothing is closed after ``refusedGrace``. Nothing of a refused connection
/// reaches the routes.
public final class ConnectionLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    /// How long a refused connection may take to send its request before it is closed without an answer: short, as
    /// it holds a descriptor the cap is there to keep (a local client sends its request at once).
    static let refusedGrace = TimeAmount.milliseconds(250)

    private enum Place { case undecided, admitted, refused, released }
    private let limiter: ConnectionLimiter
    private var place = Place.undecided
    private var answered = false

    init(limiter: ConnectionLimiter) { self.limiter = limiter }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { decide(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        decide(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        giveBack()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        giveBack()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard place == .refused else {
            context.fireChannelRead(data)
            return
        }
        if case .head = unwrapInboundIn(data) { refuse(context) }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard place == .refused else {
            context.fireErrorCaught(error)
            return
        }
        context.close(promise: nil)
    }

    private func decide(_ context: ChannelHandlerContext) {
        guard place == .undecided else { return }
        if limiter.admit() {
            place = .admitted
            return
        }
        place = .refused
        let channel = context.channel
        channel.eventLoop.scheduleTask(in: Self.refusedGrace) { channel.close(promise: nil) }
    }

    private func giveBack() {
        guard place == .admitted else { return }
        place = .released
        limiter.release()
    }

    /// Writes the 503 once and closes the connection.
    private func refuse(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        let view = ErrorView(
            code: .tooManyConnections,
            message:
                "the daemon serves at most \(limiter.maximum) connections at once; try again shortly"
        )
        var body = context.channel.allocator.buffer(capacity: 160)
        body.writeBytes(
            (try? WireJSON.encoder().encode(view)) ?? Data(#"{"error":{"code":"too_many_connections"}}"#.utf8)
        )
        body.writeString("\n")
        let head = HTTPResponse(
            status: .serviceUnavailable,
            headerFields: [
                .contentType: "application/json", .contentLength: "\(body.readableBytes)", .connection: "close",
                .retryAfter: "1",
            ]
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
