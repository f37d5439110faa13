import Foundation
public import Hummingbird
public import Logging
import NIOCore
import Synchronization

extension KinstaSimulator {
    /// The simulator as a Hummingbird application on `host:port` (port 0 picks a free one); `onListening` gets the
    /// bound port once it accepts connections.
    public func application(
        host: String = "127.0.0.1", port: Int = 0, logger: Logger = Logger(label: "kinsta-sim"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: buildRouter(), configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

/// Runs `simulator` on 127.0.0.1 with a free port for the duration of `body`, which gets the base URL
/// (`http://127.0.0.1:PORT/v2`); the server stops when `body` returns or throws.
public func withRunningSimulator<T: Sendable>(
    _ simulator: KinstaSimulator, _ body: @escaping @Sendable (_ baseURL: String) async throws -> T
) async throws -> T {
    let (listening, continuation) = AsyncStream<Int>.makeStream()
    var logger = Logger(label: "kinsta-sim")
    logger.logLevel = .warning
    let app = simulator.application(logger: logger) { port in continuation.yield(port) }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await app.run()
            return nil
        }
        var ports = listening.makeAsyncIterator()
        guard let port = await ports.next() else { throw CancellationError() }
        let result = try await body("http://127.0.0.1:\(port)/v2")
        group.cancelAll()
        return result
    }
}
