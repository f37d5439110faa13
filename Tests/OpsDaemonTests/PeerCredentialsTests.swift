import Foundation
import NIOCore
import NIOPosix
import OpsStore
import OpsTestSupport
import Testing

@testable import OpsServer

#if canImport(Glibc)
import Glibc
#endif

/// A connection's peer is read once, when it opens, and forgotten when it closes (``PeerCredentials``).
@Suite struct PeerCredentialsTests {
    /// Sits after the recording handler and reports what the table holds for its connection at each end of it.
    final class Probe: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let table: PeerCredentials
        let events: AsyncStream<(String, Peer?)>.Continuation

        init(_ table: PeerCredentials, _ events: AsyncStream<(String, Peer?)>.Continuation) {
            self.table = table
            self.events = events
        }

        func channelActive(context: ChannelHandlerContext) {
            events.yield(("active", table.peer(of: context.channel)))
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            events.yield(("inactive", table.peer(of: context.channel)))
            context.fireChannelInactive()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func theKernelsAnswerIsRecordedBeforeTheFirstReadAndForgottenAtClose() async throws {
        let directory = try TemporaryDirectory.make("ko-peer")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/p.sock"
        let table = PeerCredentials()
        let (events, continuation) = AsyncStream<(String, Peer?)>.makeStream()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([table.handler(), Probe(table, continuation)])
                }
            }
            .bind(unixDomainSocketPath: path)
            .get()
        var seen = events.makeAsyncIterator()

        do {
            let client = try ConnectionLimitTests.RawClient(path)
            let opened = await seen.next()
            #expect(opened?.0 == "active")
            #expect(opened?.1 == Peer(uid: getuid(), gid: getgid(), pid: getpid()))
            withExtendedLifetime(client) {}
        }  // the client closes its connection as it goes
        let closed = await seen.next()
        #expect(closed?.0 == "inactive")
        #expect(closed?.1 == nil)
        try await server.close()
    }
}
