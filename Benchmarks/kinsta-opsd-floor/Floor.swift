import ArgumentParser
import CurlHTTP
import FloorProbe
import Foundation
import GRDB
import TOMLKit

/// `kinsta-opsd-floor`: the memory floor of kinsta-opsd's stack, for the benchmark's P4 (docs/performance.md). It
/// links the libraries the daemon links and starts each the way the daemon does (flags, a TOML file, a GRDB
/// `DatabasePool` in WAL with `synchronous=FULL`, the libcurl client's multi thread, an HMAC, the Prometheus registry,
/// Hummingbird on a Unix socket in a `ServiceGroup` that stops on SIGTERM), and runs none of the daemon's logic. Its
/// idle RSS is what the daemon cannot go below without changing the stack.
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

        try await FloorProbe.serve(socket: socket, label: "kinsta-opsd-floor")
    }
}
