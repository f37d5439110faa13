import Crypto
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// What both P4 floor probes (`kinsta-opsd-floor`, `kinsta-opsd-floor-nofoundation`) start in the same way, after
/// each has opened its database and libcurl: an HMAC as webhooks sign, the Prometheus registry behind swift-metrics,
/// and Hummingbird on the Unix socket (`GET /v1/health` only) in a `ServiceGroup` that stops on SIGTERM or SIGINT.
/// It imports no Foundation, so the Foundation-free probe stays free of it.
public enum FloorProbe {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs until SIGTERM or SIGINT.
    public static func serve(socket: String, label: String) async throws {
        let key = SymmetricKey(data: Array("floor".utf8))
        let code = HMAC<SHA256>.authenticationCode(for: Array("{}".utf8), using: key)
        guard Array(code).count == 32 else { throw Failure(description: "HMAC-SHA256 gave a wrong length") }

        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        Counter(label: "floor_starts_total").increment()

        var logger = Logger(label: label)
        logger.logLevel = .error
        let router = Router()
        router.get("/v1/health") { _, _ in "ok" }
        let app = Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: socket), serverName: nil),
            logger: logger
        )
        try await ServiceGroup(
            configuration: .init(
                services: [app],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        ).run()
    }
}
