import Foundation
public import Hummingbird
public import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

extension KinstaSimulator {
    /// The simulator as a Hummingbird application on `host:port` (port 0 picks a free one); `onListening` gets the
    /// bound port once it accepts connections.
    public func application(
        host: String = "127.0.0.1",
        port: Int = 0,
        logger: Logger = Logger(label: "kinsta-sim"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: buildRouter(),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}

/// Runs `simulator` on 127.0.0.1 with a free port for the duration of `body`, which gets the base URL
/// (`http://127.0.0.1:PORT/v2`). The server stops gracefully when `body` returns or throws: it stops accepting,
/// closes idle keep-alive connections and lets requests under way finish (for at most 2 s; after that it is
/// cancelled), so a run ends without the server logging a cancellation.
public func withRunningSimulator<T: Sendable>(
    _ simulator: KinstaSimulator,
    _ body: @escaping @Sendable (_ baseURL: String) async throws -> T
) async throws -> T {
    let (listening, continuation) = AsyncStream<Int>.makeStream()
    var logger = Logger(label: "kinsta-sim")
    logger.logLevel = .warning
    let app = simulator.application(logger: logger) { port in continuation.yield(port) }
    var configuration = ServiceGroupConfiguration(services: [app], logger: logger)
    configuration.maximumGracefulShutdownDuration = .seconds(2)
    let server = ServiceGroup(configuration: configuration)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            // A server that ends before it listens (a bind error) must not leave the wait below hanging.
            defer { continuation.finish() }
            try await server.run()
        }
        var ports = listening.makeAsyncIterator()
        guard let port = await ports.next() else {
            try await group.waitForAll()  // rethrows why the server ended
            throw CancellationError()
        }
        do {
            let result = try await body("http://127.0.0.1:\(port)/v2")
            await server.triggerGracefulShutdown()
            try await group.waitForAll()
            return result
        } catch {
            await server.triggerGracefulShutdown()
            throw error
        }
    }
}
