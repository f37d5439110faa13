import CurlHTTP
import Foundation
import OpsCore
import OpsStore
import OpsTestSupport

/// P5: scale of history. A database with 100,000 jobs (10,000 of them in flight) and 1,000,000 events, served by
/// the real daemon over its Unix socket: p99 of `GET /v1/events?after=` pages and of filtered job lists, and the
/// time from start to READY with the 10,000 in-flight operations to resume.
struct P5History {
    let options: Bench.Options
    var jobs: Int { options.quick ? 20_000 : 100_000 }
    var eventsPerJob: Int { 10 }
    var inFlight: Int { options.quick ? 2_000 : 10_000 }
    var samples: Int { options.quick ? 100 : 300 }

    func run() async throws {
        out("\nP5: \(jobs) jobs, \(jobs * eventsPerJob) events, \(inFlight) in flight ...")
        let scratch = try TemporaryDirectory.make("bench-p5")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let stateDirectory = scratch + "/state"
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let fill = Date()
        try await Self.fill(
            path: stateDirectory + "/kinsta-opsd.sqlite",
            jobs: jobs,
            eventsPerJob: eventsPerJob,
            inFlight: inFlight
        )
        let fillSeconds = Date().timeIntervalSince(fill)

        let daemon = try await InProcessDaemon.start(
            api: IdleKinstaAPI(),
            configure: { $0.bench(stateDirectory: stateDirectory, maxInFlight: inFlight * 2) }
        )
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let client = SocketClient(http: http, socketPath: daemon.socketPath)
        var rng = SplitMix64(seed: options.seed)
        let totalEvents = jobs * eventsPerJob
        var rows: [[String]] = []
        let queries: [(String, () -> String)] = [
            (
                "GET /v1/events?after=<random>&limit=1000",
                {
                    "/v1/events?after=\(Int.random(in: 0..<totalEvents, using: &rng))&limit=1000"
                }
            ),
            (
                "GET /v1/events?after=<random>&job=<random>",
                {
                    "/v1/events?after=0&job=\(Int.random(in: 1...jobs, using: &rng))"
                }
            ),
            ("GET /v1/jobs?limit=50 (newest)", { "/v1/jobs?limit=50" }),
            (
                "GET /v1/jobs?state=failed&limit=50&before=<random>",
                {
                    "/v1/jobs?state=failed&limit=50&before=\(Int.random(in: 1...jobs, using: &rng))"
                }
            ),
            (
                "GET /v1/jobs?kind=site.clone&limit=50&before=<random>",
                {
                    "/v1/jobs?kind=site.clone&limit=50&before=\(Int.random(in: 1...jobs, using: &rng))"
                }
            ),
            (
                "GET /v1/jobs?state=running&kind=backup.restore&limit=50",
                {
                    "/v1/jobs?state=running&kind=backup.restore&limit=50"
                }
            ),
        ]
        for (name, path) in queries {
            var latencies: [Double] = []
            for _ in 0..<samples {
                let url = path()
                let began = Date()
                let response = try await client.get(url)
                guard response.status == 200 else { throw BenchError("\(url) answered \(response.status)") }
                latencies.append(Date().timeIntervalSince(began) * 1000)
            }
            rows.append([
                name, "\(samples)", Format.number(Stats.percentile(latencies, 50), 2),
                Format.number(Stats.percentile(latencies, 99), 2), Format.number(latencies.max() ?? .nan, 2),
            ])
        }
        await daemon.stop()
        rows.append([
            "start → READY (\(inFlight) in flight to resume)", "1", Format.number(daemon.secondsToReady * 1000, 1),
            "–", "–",
        ])
        Format.table(
            "P5 scale of history (\(jobs) jobs, \(totalEvents) events; through the Unix socket; ms)",
            ["query", "n", "p50 ms", "p99 ms", "max ms"],
            rows,
            notes: [
                "targets: p99 < 50 ms; READY < 1 s (READY = database open and migrated, socket listening with its "
                    + "mode; resuming the in-flight jobs runs after it in the poller)",
                "database filled in \(Format.seconds(fillSeconds)) with one SQL statement per table",
            ]
        )
    }

    /// Bulk rows in a few statements: `jobs` jobs (the newest `inFlight` running, polls due in an hour), 10 events
    /// each, through the store's own schema (migrations run by `OpsDatabase`).
    static func fill(path: String, jobs: Int, eventsPerJob: Int, inFlight: Int) async throws {
        let database = try OpsDatabase(path: path)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let firstRunning = jobs - inFlight + 1
        try await database.executeForTesting(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(jobs))
            INSERT INTO job (id, kind, params, target, state, version, attempt, operation_id, accepted_at, deadline,
                poll_count, pending_action, next_action_at, created_at, updated_at, finished_at)
            SELECT i,
                CASE i % 5 WHEN 0 THEN 'site.create' WHEN 1 THEN 'site.create_plain' WHEN 2 THEN 'site.clone'
                    WHEN 3 THEN 'site.delete' ELSE 'backup.restore' END,
                json_object('display_name', 'site-' || i, 'region', 'us-central1', 'company', 'c'),
                'site-name:site-' || i,
                CASE WHEN i >= \(firstRunning) THEN 'running' WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
                5, 1, 'sites:add-' || i, \(now) - 60000, \(now) + 3600000,
                3,
                CASE WHEN i >= \(firstRunning) THEN 'poll' END,
                CASE WHEN i >= \(firstRunning) THEN \(now) + 3600000 END,
                \(now) - (\(jobs) - i) * 1000, \(now) - (\(jobs) - i) * 1000,
                CASE WHEN i >= \(firstRunning) THEN NULL ELSE \(now) - (\(jobs) - i) * 1000 + 500 END
            FROM n;
            """
        )
        try await database.executeForTesting(
            """
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < \(jobs * eventsPerJob - 1))
            INSERT INTO event (at, job_id, kind, from_state, to_state, attempt, operation_id, message)
            SELECT \(now) - \(jobs * eventsPerJob) + i, i / \(eventsPerJob) + 1, 'site.create_plain',
                'running', 'running', 1, 'sites:add-' || (i / \(eventsPerJob) + 1), 'Kinsta is working on it'
            FROM n;
            """
        )
        try await database.checkpointForTesting()
    }
}
