import ArgumentParser
import Crypto
import CurlHTTP
import Foundation
import GRDB
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import TOMLKit
import UnixSignals

/// `kinsta-opsd-floor`: the memory floor of kinsta-opsd's stack, for the benchmark's P4 (issue 7). It links the
/// libraries the daemon links and starts each the way the daemon does (flags, a TOML file, a GRDB `DatabasePool` in
/// WAL with `synchronous=FULL`, the libcurl client's multi thread, an HMAC, the Prometheus registry, Hummingbird on a
/// Unix socket in a `ServiceGroup` that stops on SIGTERM), and runs none of the daemon's logic. Its idle RSS is what
/// the daemon cannot go below without changing the stack.
@main
struct Floor: AsyncParsableCommand {
    @Option var config: String
    @Option var socket: String
    @Option var database: String

    func run() async throws {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        let table = try TOMLTable(string: text)
        guard table["daemon"]?.table != nil else { throw ValidationError("\(config) has no [daemon] table") }

        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let pool = try DatabasePool(path: database, configuration: configuration)
        try await pool.write { db in try db.execute(sql: "CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY)") }

        let http = CurlHTTPClient()
        defer { http.shutdown() }

        let key = SymmetricKey(data: Array("floor".utf8))
        let code = HMAC<SHA256>.authenticationCode(for: Array("{}".utf8), using: key)
        guard Array(code).count == 32 else { throw ValidationError("HMAC-SHA256 gave a wrong length") }

        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        Counter(label: "floor_starts_total").increment()

        var logger = Logger(label: "kinsta-opsd-floor")
        logger.logLevel = .error
        let router = Router()
        router.get("/v1/health") { _, _ in "ok" }
        let app = Application(
            router: router, configuration: .init(address: .unixDomainSocket(path: socket), serverName: nil),
            logger: logger)
        try await ServiceGroup(configuration: .init(
            services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}

