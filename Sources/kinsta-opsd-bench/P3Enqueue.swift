import CurlHTTP
import Foundation
import GRDB
import OpsCore

/// P3: durable enqueue. Jobs submitted over the real Unix socket to the real daemon (in this process: store,
/// engine, socket server; Kinsta is a stand-in that accepts everything), each answered 201 only after its fsynced
/// commit; next to raw SQLite inserting one row per transaction (WAL, synchronous=FULL) in the same directory.
struct P3Enqueue {
    let options: Bench.Options
    var count: Int { options.quick ? 400 : 2000 }
    let clients = 4

    func run() async throws {
        out("\nP3: \(count) submissions over the socket, \(clients) clients; raw SQLite alongside ...")
        let scratch = try ScratchDirectory("bench-p3")
        defer { scratch.remove() }
        let raw = try rawSQLite(path: scratch.path + "/raw.sqlite")
        let daemon = try await daemonSubmissions(stateDirectory: scratch.path + "/state")
        let ratio = daemon.rate / raw.rate
        Format.table(
            "P3 durable enqueue (\(count) jobs; latency per job in ms)",
            ["path", "jobs/s", "p50 ms", "p99 ms", "max ms"],
            [
                ["daemon: POST /v1/jobs over the Unix socket (\(clients) clients)", Format.number(daemon.rate, 0),
                    Format.number(daemon.p50, 2), Format.number(daemon.p99, 2), Format.number(daemon.max, 2)],
                ["raw SQLite: one INSERT per transaction, WAL, synchronous=FULL (1 writer)", Format.number(raw.rate, 0),
                    Format.number(raw.p50, 2), Format.number(raw.p99, 2), Format.number(raw.max, 2)],
            ],
            notes: [
                "daemon/raw rate = \(Format.number(ratio, 2)) (target ≥ 0.5); daemon p99 = "
                    + "\(Format.number(daemon.p99, 1)) ms (target < 20)",
                "same disk: both under \(scratch.path)",
            ])
    }

    struct Measured {
        var rate: Double
        var p50: Double
        var p99: Double
        var max: Double
    }

    func rawSQLite(path: String) throws -> Measured {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "CREATE TABLE job (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL, created_at INTEGER NOT NULL)")
        }
        var latencies: [Double] = []
        let start = Date()
        for index in 0..<count {
            let began = Date()
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO job (kind, params, created_at) VALUES (?, ?, ?)",
                    arguments: ["site.create_plain", "{\"display_name\":\"raw-\(index)\",\"region\":\"us-central1\"}",
                        Int64(Date().timeIntervalSince1970 * 1000)])
            }
            latencies.append(Date().timeIntervalSince(began) * 1000)
        }
        let elapsed = Date().timeIntervalSince(start)
        return Measured(
            rate: Double(count) / elapsed, p50: Stats.percentile(latencies, 50), p99: Stats.percentile(latencies, 99),
            max: latencies.max() ?? .nan)
    }

    func daemonSubmissions(stateDirectory: String) async throws -> Measured {
        let daemon = try await InProcessDaemon.start(stateDirectory: stateDirectory, api: IdleKinstaAPI())
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let client = SocketClient(http: http, socketPath: daemon.socketPath)
        let count = self.count, clients = self.clients
        let start = Date()
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<clients {
                group.addTask {
                    var mine: [Double] = []
                    for index in stride(from: worker, to: count, by: clients) {
                        let body = try JSONEncoder().encode(SubmitBody(
                            kind: "site.create_plain",
                            params: ["display_name": "p3-\(index)", "region": "us-central1"]))
                        let began = Date()
                        let response = try await client.post("/v1/jobs", json: body)
                        guard response.status == 201 else {
                            throw BenchError("submit answered \(response.status): \(String(decoding: response.body, as: UTF8.self))")
                        }
                        mine.append(Date().timeIntervalSince(began) * 1000)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let elapsed = Date().timeIntervalSince(start)
        await daemon.stop()
        return Measured(
            rate: Double(count) / elapsed, p50: Stats.percentile(latencies, 50), p99: Stats.percentile(latencies, 99),
            max: latencies.max() ?? .nan)
    }

    struct SubmitBody: Encodable {
        var kind: String
        var params: [String: String]
    }
}
