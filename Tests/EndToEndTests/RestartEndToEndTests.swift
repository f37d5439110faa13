import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol
import OpsStore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real binaries: `kinsta-sim` and `kinsta-opsd` on temporary paths. Five jobs of five kinds go in over the socket;
/// the daemon is killed with SIGKILL while they are in flight and started again; every job must end succeeded or
/// failed, with exactly one submission each at the simulator, and the history must have no gap and no duplicate.
@Suite(.serialized) struct RestartEndToEndTests {
    static let apiKey = "e2e-secret-api-key-5f1d"
    static let password = "e2e-admin-password-9c2a"
    static let webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    @Test(.timeLimit(.minutes(3)))
    func fiveKindsSurviveSIGKILLWithOneSubmissionEach() async throws {
        let work = try shortTemporaryDirectory("ko-e2e")
        defer { try? FileManager.default.removeItem(at: work) }
        let http = CurlHTTPClient()
        defer { http.shutdown() }

        // Given the simulator, with a start-up 404 window, jobs of a few seconds and some failures
        let sim = try ChildProcess(
            BuiltProducts.executable("kinsta-sim"),
            [
                "--port", "0", "--window", "2", "--duration-scale", "0.03", "--failure-rate", "0.25", "--seed", "11",
                "--api-key", Self.apiKey,
            ],
            environment: ProcessInfo.processInfo.environment,
            name: "kinsta-sim"
        )
        defer { sim.signal(SIGKILL) }
        let listening = try await withTimeout(30, "kinsta-sim to listen") {
            try await sim.waitForLine { $0.hasPrefix("kinsta-sim listening on ") }
        }
        let simBase = String(listening.dropFirst("kinsta-sim listening on ".count))
        let simRoot = simBase.replacingOccurrences(of: "/v2", with: "")
        let state = try await getJSON(http, simRoot + "/_sim/state")
        let company = try #require(state["company_id"]?.stringValue)
        let firstSite = try #require(state["sites"]?.array?.first)
        let secondSite = try #require(state["sites"]?.array?.dropFirst().first)
        let env = try #require(secondSite["environments"]?.array?.first)
        let envID = try #require(env["id"]?.stringValue)
        let backupID = try #require(env["backups"]?.array?.first?["id"])

        // And the daemon, configured by the environment plus a file with fast polling
        let configPath = work.appendingPathComponent("opsd.toml").path
        try """
        [kinsta]
        requests_per_minute = 6000
        request_burst = 100
        [polling]
        # The simulator runs minutes in seconds: the fixed schedule below, not the learning one (priors in minutes).
        adaptive = false
        startup_window_seconds = 10
        first_poll_seconds = 0.3
        interval_seconds = 0.3
        max_interval_seconds = 1
        error_backoff_seconds = 0.3
        error_backoff_max_seconds = 2
        confirm_seconds = 2

        [[webhooks]]
        name = "std"
        url = "\(simRoot)/_sim/webhooks/std"
        secret = "\(Self.webhookSecret)"

        [[webhooks]]
        name = "slack"
        url = "\(simRoot)/_sim/webhooks/slack"
        format = "slack"
        """.write(toFile: configPath, atomically: false, encoding: .utf8)
        let socket = work.appendingPathComponent("s.sock").path
        var environment = ProcessInfo.processInfo.environment
        environment["KINSTA_API_KEY"] = Self.apiKey
        environment["KINSTA_API_BASE_URL"] = simBase
        environment["KINSTA_COMPANY_ID"] = company
        environment["KINSTA_OPSD_STATE_DIR"] = work.appendingPathComponent("state").path
        environment["KINSTA_OPSD_SOCKET"] = socket
        environment["KINSTA_OPSD_LOG_LEVEL"] = "debug"
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        let daemonEnvironment = environment
        let startDaemon = { @Sendable () async throws -> ChildProcess in
            let daemon = try ChildProcess(
                BuiltProducts.executable("kinsta-opsd"),
                ["--config", configPath],
                environment: daemonEnvironment,
                name: "kinsta-opsd"
            )
            _ = try await withTimeout(30, "kinsta-opsd to listen") {
                try await daemon.waitForListening()
            }
            return daemon
        }
        let first = try await startDaemon()
        defer { first.signal(SIGKILL) }

        // When one job of each kind is submitted over the socket
        let submissions: [SubmitJobRequest] = [
            SubmitJobRequest(
                kind: "site.create",
                params: [
                    "display_name": "E2E WordPress", "region": "us-central1", "admin_email": "admin@example.com",
                    "admin_password": .string(Self.password), "admin_user": "admin", "site_title": "E2E",
                ]
            ),
            SubmitJobRequest(
                kind: "site.create_plain",
                params: ["display_name": "E2E Plain", "region": "europe-west1"]
            ),
            SubmitJobRequest(
                kind: "site.clone",
                params: ["display_name": "E2E Clone", "source_env_id": .string(envID)]
            ),
            SubmitJobRequest(kind: "site.delete", params: ["site_id": try #require(firstSite["id"])]),
            SubmitJobRequest(
                kind: "backup.restore",
                params: [
                    "target_env_id": .string(envID), "backup_id": backupID,
                    "notified_user_id": "54fb80af-576c-4fdc-ba4f-b596c83f15a1",
                ]
            ),
        ]
        var jobIDs: [Int64] = []
        for submission in submissions {
            let response = try await http.execute(socketRequest(socket, "POST", "/v1/jobs", body: submission))
            #expect(response.status == 201, "\(String(decoding: response.body, as: UTF8.self))")
            jobIDs.append(try WireJSON.decoder().decode(JobView.self, from: response.body).id)
        }

        let ids = Set(jobIDs)
        // And the daemon is killed once every job is at Kinsta (accepted or further), then started again
        let seen = EventLog()
        try await withTimeout(60, "every job to reach Kinsta") {
            try await follow(http, socket, after: 0, into: seen) { log in
                ids.isSubset(of: log.jobs(reaching: ["accepted", "running", "succeeded", "failed"]))
            }
        }
        first.signal(SIGKILL)
        #expect(await first.waitForExit() == SIGKILL)
        // (the kill must land mid-flight for this test to mean anything)
        let inFlightAtKill = seen.jobsLastIn(["accepted", "running"])
        #expect(!inFlightAtKill.isEmpty, "no job was in flight when the daemon was killed")
        // And the file the kill left behind is sound, before anything opens it again
        let databasePath = work.appendingPathComponent("state/kinsta-opsd.sqlite").path
        #expect(try await OpsDatabase(path: databasePath).integrityCheck() == ["ok"])
        let second = try await startDaemon()
        defer { second.signal(SIGTERM) }

        // Then every job ends succeeded or failed
        try await withTimeout(90, "every job to finish") {
            try await follow(http, socket, after: seen.lastSeq, into: seen) { log in
                ids.isSubset(of: log.jobs(reaching: ["succeeded", "failed", "timed_out", "needs_attention"]))
            }
        }
        let list = try WireJSON.decoder().decode(
            JobListView.self,
            from: try await http.execute(socketRequest(socket, "GET", "/v1/jobs?limit=10")).body
        )
        for job in list.jobs {
            #expect(["succeeded", "failed"].contains(job.state), "job \(job.id) \(job.kind) ended \(job.state)")
        }
        // And the simulator received exactly one submission per job, and nothing else that starts work
        let requests = try await getJSON(http, simRoot + "/_sim/requests")
        let submitted = (requests.array ?? []).filter { request in
            let method = request["method"]?.stringValue ?? ""
            let path = request["path"]?.stringValue ?? ""
            return (method == "POST" || method == "DELETE") && !path.contains("/operations")
        }
        #expect(submitted.count == 5, "submissions: \(submitted)")
        let bySubmission = Dictionary(grouping: submitted) {
            "\($0["method"]?.stringValue ?? "") \($0["path"]?.stringValue ?? "")"
        }
        #expect(bySubmission.values.allSatisfy { $0.count == 1 })

        // And the history the two follow streams saw is gap-free, each event once
        let all = try await eventsAfter(http, socket, 0)
        #expect(all.map(\.seq) == Array(1...Int64(all.count)))
        #expect(seen.sequence == all.map(\.seq))

        // And every state change reached both webhook endpoints (at least once: a delivery the kill interrupted is
        // sent again), the standard ones signed so that the reference library verifies them
        let eventCount = all.count
        let received = try await withTimeout(20, "every delivery") {
            // Each ask waits for one more delivery than the last answer held (the simulator answers when it came).
            var wanted = 0
            while true {
                let list = try await getJSON(http, simRoot + "/_sim/webhooks?wait_for=\(wanted)").array ?? []
                wanted = list.count + 1
                let ids = Set(
                    list.filter { $0["endpoint"] == "std" }.compactMap { $0["headers"]?["webhook-id"]?.stringValue }
                )
                let slack = list.filter { $0["endpoint"] == "slack" }.count
                if ids.count == eventCount && slack >= eventCount { return list }
            }
        }
        let standard = received.filter { $0["endpoint"] == "std" }
        #expect(
            Set(standard.compactMap { $0["headers"]?["webhook-id"]?.stringValue })
                == Set(all.map { "msg_\($0.seq)_std" })
        )
        for delivery in standard.prefix(5) {
            let body = Data((delivery["body"]?.stringValue ?? "").utf8)
            var headers: [String: String] = [:]
            for (name, value) in delivery["headers"]?.objectValue ?? [:] { headers[name] = value.stringValue }
            #expect(try referenceVerifies(body, headers, secret: Self.webhookSecret))
        }

        // And neither the key, the admin password nor the webhook secret reached a log line
        for line in first.output + second.output {
            #expect(!line.contains(Self.apiKey), "API key in log: \(line)")
            #expect(!line.contains(Self.password), "password in log: \(line)")
            #expect(!line.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "webhook secret in log: \(line)")
        }

        // And SIGTERM stops the second daemon cleanly
        second.signal(SIGTERM)
        #expect(await second.waitForExit() == 0)
    }
}

/// Events seen by follow streams, in arrival order.
final class EventLog: Sendable {
    private let events = Mutex<[EventView]>([])

    func add(_ event: EventView) { events.withLock { $0.append(event) } }
    var lastSeq: Int64 { events.withLock { $0.last?.seq ?? 0 } }
    var sequence: [Int64] { events.withLock { $0.map(\.seq) } }

    /// Jobs whose latest event so far is in one of `states`.
    func jobsLastIn(_ states: Set<String>) -> Set<Int64> {
        events.withLock { events in
            var latest: [Int64: String] = [:]
            for event in events { latest[event.jobID] = event.to }
            return Set(latest.filter { states.contains($0.value) }.keys)
        }
    }

    func jobs(reaching states: Set<String>) -> Set<Int64> {
        events.withLock { Set($0.filter { states.contains($0.to) }.map(\.jobID)) }
    }
}

/// Follows `/v1/events?follow=1` from `after` until `done(log)` holds; a stream that ends (daemon killed) just returns.
func follow(
    _ http: CurlHTTPClient,
    _ socket: String,
    after: Int64,
    into log: EventLog,
    until done: @Sendable (EventLog) -> Bool
) async throws {
    let response = try await http.stream(socketRequest(socket, "GET", "/v1/events?follow=1&after=\(after)"))
    var pending = Data()
    for try await chunk in response.body {
        pending.append(chunk)
        while let newline = pending.firstIndex(of: 0x0A) {
            let line = pending[pending.startIndex..<newline]
            pending.removeSubrange(pending.startIndex...newline)
            guard !line.isEmpty else { continue }  // heartbeat
            let event = try WireJSON.decoder().decode(EventView.self, from: Data(line))
            // Each event exactly once: a resumed stream starts after the last one seen.
            #expect(event.seq > log.lastSeq)
            log.add(event)
        }
        if done(log) { return }
    }
}

func eventsAfter(_ http: CurlHTTPClient, _ socket: String, _ after: Int64) async throws -> [EventView] {
    let body = try await http.execute(socketRequest(socket, "GET", "/v1/events?after=\(after)&limit=10000")).body
    return try body.split(separator: 0x0A).map { try WireJSON.decoder().decode(EventView.self, from: Data($0)) }
}

func socketRequest(
    _ socket: String,
    _ method: String,
    _ path: String,
    body: SubmitJobRequest? = nil
) throws
    -> HTTPRequest
{
    HTTPRequest(
        method: method,
        url: "http://localhost" + path,
        headers: body == nil ? [] : [HTTPHeader("Content-Type", "application/json")],
        body: try body.map { try WireJSON.encoder().encode($0) },
        timeout: .seconds(10),
        unixSocketPath: socket
    )
}

func getJSON(_ http: CurlHTTPClient, _ url: String) async throws -> JSONValue {
    let response = try await http.execute(HTTPRequest(url: url, timeout: .seconds(10)))
    guard response.status == 200 else { throw E2EError("GET \(url) answered \(response.status)") }
    return try JSONDecoder().decode(JSONValue.self, from: response.body)
}

/// The Standard Webhooks reference verifier (Python `standardwebhooks`) on one captured delivery.
func referenceVerifies(_ body: Data, _ headers: [String: String], secret: String) throws -> Bool {
    let directory = try shortTemporaryDirectory("ko-swv")
    defer { try? FileManager.default.removeItem(at: directory) }
    try body.write(to: directory.appendingPathComponent("body"))
    try JSONEncoder().encode(headers).write(to: directory.appendingPathComponent("headers.json"))
    let script = """
        import json, sys
        from standardwebhooks.webhooks import Webhook
        body = open(sys.argv[1] + '/body', 'rb').read()
        Webhook(sys.argv[2]).verify(body, json.load(open(sys.argv[1] + '/headers.json')))
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [projectPython(), "-c", script, directory.path, secret]
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus == 0
}

extension JSONValue {
    var array: [JSONValue]? {
        if case .array(let values) = self { return values }
        return nil
    }
}

/// The project's Python test environment (`.build/python`, made by `scripts/install-deps.sh` with the packages the
/// tests use) when it exists, else `python3` on the PATH.
func projectPython(file: String = #filePath) -> String {
    let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let venv = root.appendingPathComponent(".build/python/bin/python3").path
    return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
}
