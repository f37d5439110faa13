import CurlHTTP
import Foundation
import GRDB
import OpsCore
import OpsTestSupport

/// P3: durable enqueue. Jobs submitted over the real Unix socket to the real daemon (in this process: store,
/// engine, socket server; Kinsta is a stand-in that accepts everything), each answered 201 only after its fsynced
/// commit; next to raw SQLite inserting one row per transaction (WAL, synchronous=FULL) in the same directory.
struct P3Enqueue {
    let options: Bench.Options
    var count: Int { options.quick ? 400 : 2000 }
    let clients = 4

    /// Raw and daemon batches alternate, so a disk whose fsync time drifts (a shared machine) weighs on both alike.
    let rounds = 4

    func run() async throws {
        out(
            "\nP3: \(count) submissions over the socket, \(clients) clients; raw SQLite alongside, \(rounds) rounds each ..."
        )
        let scratch = try TemporaryDirectory.make("bench-p3")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let raw = try RawSQLite(path: scratch + "/raw.sqlite")
        let daemon = try await InProcessDaemon.start(
            api: IdleKinstaAPI(),
            configure: { $0.bench(stateDirectory: scratch + "/state") }
        )
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let client = SocketClient(http: http, socketPath: daemon.socketPath)
        var rawLatencies: [Double] = []
        var daemonLatencies: [Double] = []
        var rawSeconds = 0.0
        var daemonSeconds = 0.0
        let batch = count / rounds
        for round in 0..<rounds {
            let rawStart = Date()
            rawLatencies += try raw.insert(batch, from: round * batch)
            rawSeconds += Date().timeIntervalSince(rawStart)
            let daemonStart = Date()
            daemonLatencies += try await submissions(client, batch, from: round * batch)
            daemonSeconds += Date().timeIntervalSince(daemonStart)
        }
        await daemon.stop()
        let spawned = try await spawnedDaemon(scratch: scratch, http: http)
        let rawRate = Double(rawLatencies.count) / rawSeconds
        let daemonRate = Double(daemonLatencies.count) / daemonSeconds
        func row(_ name: String, _ rate: Double, _ latencies: [Double], cpu: String = "–") -> [String] {
            [
                name, Format.number(rate, 0), Format.number(Stats.percentile(latencies, 50), 2),
                Format.number(Stats.percentile(latencies, 99), 2), Format.number(latencies.max() ?? .nan, 2), cpu,
            ]
        }
        var rows = [
            row("daemon: POST /v1/jobs over the Unix socket (\(clients) clients)", daemonRate, daemonLatencies),
            row("raw SQLite: one INSERT per transaction, WAL, synchronous=FULL (1 writer)", rawRate, rawLatencies),
        ]
        var notes = [
            "in process (libcurl clients)/raw rate = \(Format.number(daemonRate / rawRate, 2)); daemon p99 = "
                + "\(Format.number(Stats.percentile(daemonLatencies, 99), 1)) ms (target < 20)",
            "same disk: both under \(scratch); \(rounds) alternating rounds of \(batch)",
        ]
        if let (spawned, lean) = spawned {
            rows.insert(
                row(
                    "kinsta-opsd process (spawned), the same submissions",
                    spawned.rate,
                    spawned.latencies,
                    cpu: Format.number(spawned.cpuPerJob * 1000, 3)
                ),
                at: 1
            )
            rows.insert(
                row(
                    "kinsta-opsd process (spawned), lean clients (raw socket, \(clients) threads)",
                    lean.rate,
                    lean.latencies,
                    cpu: Format.number(lean.cpuPerJob * 1000, 3)
                ),
                at: 2
            )
            notes.append(
                "spawned with lean clients / raw rate = \(Format.number(lean.rate / rawRate, 2)) (target ≥ 0.5 where "
                    + "raw SQLite does 5,500/s: \(Format.number(lean.rate, 0)) jobs/s against 2,750); "
                    + "the clients' own CPU per job (the benchmark process's): libcurl "
                    + "\(Format.number(spawned.clientCPUPerJob * 1000, 3)) ms, lean "
                    + "\(Format.number(lean.clientCPUPerJob * 1000, 3)) ms, on the daemon's two cores"
            )
            notes.append(
                "CPU per job: the kinsta-opsd process's own CPU time (utime + stime from /proc) over the "
                    + "submissions, ÷ jobs: the clients' CPU is not in it, so it means the same on any disk; the "
                    + "rate the two cores allow is about \(Format.number(2 / spawned.cpuPerJob, 0)) jobs/s with "
                    + "nothing else running"
            )
        } else {
            notes.append("the spawned row needs kinsta-opsd and kinsta-sim built next to the benchmark")
        }
        Format.table(
            "P3 durable enqueue (\(count) jobs each; latency per job in ms)",
            ["path", "jobs/s", "p50 ms", "p99 ms", "max ms", "CPU ms/job"],
            rows,
            notes: notes
        )
    }

    /// The same submissions to the real `kinsta-opsd` process, spawned against `kinsta-sim` as P4 does (operations
    /// slow enough that the engine sends a few and waits): jobs/s, latencies, and the process's CPU seconds per job,
    /// once through libcurl as the other rows and once through ``RawSocketLoad``'s lean clients. `nil` when the executables are not built next to the benchmark.
    func spawnedDaemon(
        scratch: String,
        http: CurlHTTPClient
    ) async throws
        -> (curl: SpawnedRun, lean: SpawnedRun)?
    {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let daemonPath = directory.appendingPathComponent("kinsta-opsd").path
        let simPath = directory.appendingPathComponent("kinsta-sim").path
        guard [daemonPath, simPath].allSatisfy(FileManager.default.isExecutableFile(atPath:)) else { return nil }
        let (sim, base) = try await P4Footprint.spawnSimulator(simPath, scratch: scratch, seed: options.seed)
        defer { sim.stop() }
        let started = try await P4Footprint(options: options).startDaemon(
            daemonPath,
            state: scratch + "/spawned",
            base: base,
            maxInFlight: 8
        )
        defer { started.child.stop() }
        let socketPath = scratch + "/spawned/s.sock"
        let client = SocketClient(http: http, socketPath: socketPath)
        _ = try await submissions(client, clients * 10, from: count)  // warm: the first requests set things up
        let me = ProcessInfo.processInfo.processIdentifier
        func measured(_ submit: () async throws -> [Double]) async throws -> SpawnedRun {
            let cpuBefore = Proc.cpuSeconds(started.child.pid)
            let clientsBefore = Proc.cpuSeconds(me)
            let began = Date()
            let latencies = try await submit()
            let seconds = Date().timeIntervalSince(began)
            let cpu = Proc.cpuSeconds(started.child.pid) - cpuBefore
            let clients = Proc.cpuSeconds(me) - clientsBefore
            return SpawnedRun(
                rate: Double(latencies.count) / seconds,
                latencies: latencies,
                cpuPerJob: cpu / Double(latencies.count),
                clientCPUPerJob: clients / Double(latencies.count)
            )
        }
        let curl = try await measured { try await submissions(client, count, from: count * 2) }
        let clients = self.clients
        let lean = try await measured {
            try await RawSocketLoad.submit(socketPath: socketPath, clients: clients, count: count, from: count * 3)
        }
        return (curl, lean)
    }

    struct SpawnedRun {
        var rate: Double
        var latencies: [Double]
        var cpuPerJob: Double
        /// The benchmark process's own CPU over the run, per job: what its clients cost.
        var clientCPUPerJob: Double
    }

    /// One row per transaction, WAL, synchronous=FULL: what a durable insert costs on this disk with nothing else.
    struct RawSQLite {
        let queue: DatabaseQueue

        init(path: String) throws {
            var configuration = Configuration()
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                try db.execute(
                    sql: """
                        CREATE TABLE job (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL,
                            created_at INTEGER NOT NULL)
                        """
                )
            }
        }

        func insert(_ count: Int, from first: Int) throws -> [Double] {
            var latencies: [Double] = []
            for index in first..<(first + count) {
                let began = Date()
                try queue.write { db in
                    try db.execute(
                        sql: "INSERT INTO job (kind, params, created_at) VALUES (?, ?, ?)",
                        arguments: [
                            "site.create_plain", "{\"display_name\":\"raw-\(index)\",\"region\":\"us-central1\"}",
                            Int64(Date().timeIntervalSince1970 * 1000),
                        ]
                    )
                }
                latencies.append(Date().timeIntervalSince(began) * 1000)
            }
            return latencies
        }
    }

    func submissions(_ client: SocketClient, _ count: Int, from first: Int) async throws -> [Double] {
        let clients = self.clients
        return try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<clients {
                group.addTask {
                    var mine: [Double] = []
                    for index in stride(from: first + worker, to: first + count, by: clients) {
                        let body = try JSONEncoder().encode(
                            SubmitBody(
                                kind: "site.create_plain",
                                params: ["display_name": "p3-\(index)", "region": "us-central1"]
                            )
                        )
                        let began = Date()
                        let response = try await client.post("/v1/jobs", json: body)
                        guard response.status == 201 else {
                            throw BenchError(
                                "submit answered \(response.status): \(String(decoding: response.body, as: UTF8.self))"
                            )
                        }
                        mine.append(Date().timeIntervalSince(began) * 1000)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    struct SubmitBody: Encodable {
        var kind: String
        var params: [String: String]
    }
}
