import CurlHTTP
import Foundation
import GRDB
import KinstaClient
import KinstaSimulator
import Logging
import OpsCore
import OpsStore
import OpsTestSupport

/// P4: footprint of the real `kinsta-opsd` process (spawned from the same build directory as this benchmark)
/// against a `kinsta-sim` process: RSS idle, and RSS and CPU with 10,000 operations in flight (polled under the
/// default budget, 60 requests/min). Reads /proc/PID/status (VmRSS) and /proc/PID/stat (utime + stime).
struct P4Footprint {
    let options: Bench.Options
    var inFlight: Int { options.quick ? 2_000 : 10_000 }
    var window: Double { options.p4Window ?? (options.quick ? 15 : 60) }

    func run() async throws {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let daemonPath = directory.appendingPathComponent("kinsta-opsd").path
        let simPath = directory.appendingPathComponent("kinsta-sim").path
        let floorPath = directory.appendingPathComponent("kinsta-opsd-floor").path
        let leanFloorPath = directory.appendingPathComponent("kinsta-opsd-floor-nofoundation").path
        guard [daemonPath, simPath, floorPath, leanFloorPath].allSatisfy(FileManager.default.isExecutableFile(atPath:))
        else {
            out(
                "\nP4 skipped: kinsta-opsd, kinsta-sim and the two kinsta-opsd-floor probes must be built next to the "
                    + "benchmark (swift build -c release)"
            )
            return
        }
        out("\nP4: spawning \(daemonPath) against kinsta-sim; \(inFlight) in flight, \(Int(window)) s window ...")
        let scratch = try TemporaryDirectory.make("bench-p4")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (sim, base) = try await Self.spawnSimulator(simPath, scratch: scratch, seed: options.seed)
        defer { sim.stop() }

        // Idle: an empty state directory.
        let idle = try await startDaemon(daemonPath, state: scratch + "/idle", base: base, maxInFlight: 8)
        try await Task.sleep(for: .seconds(3))
        let idleRSS = Proc.rssKiB(idle.child.pid)
        let idleMemory = Proc.memory(idle.child.pid)
        let idleCPU0 = Proc.cpuSeconds(idle.child.pid)
        try await Task.sleep(for: .seconds(window / 3))
        let idleCPU = (Proc.cpuSeconds(idle.child.pid) - idleCPU0) / (window / 3)
        idle.child.stop()

        // The floors: the same libraries started the same way with none of the daemon's logic, then without the two
        // libraries that bring full Foundation. Measured like the idle daemon: 3 s after the first health answer.
        var floors: [[String]] = []
        try "[daemon]\nlog_level = \"error\"\n".write(
            toFile: scratch + "/floor.toml",
            atomically: true,
            encoding: .utf8
        )
        for (label, path, arguments) in [
            ("stack floor: same libraries, no daemon logic", floorPath, ["--config", scratch + "/floor.toml"]),
            ("stack floor without Foundation (no GRDB, no TOMLKit)", leanFloorPath, []),
        ] {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let started = Date()
            let child = try Child.spawn(
                path,
                arguments + [
                    "--socket", scratch + "/\(name).sock", "--database", scratch + "/\(name).sqlite",
                ],
                environment: [:]
            )
            let ready = try await Self.waitForHealth(child, socket: scratch + "/\(name).sock", since: started)
            try await Task.sleep(for: .seconds(3))
            let memory = Proc.memory(child.pid)
            floors.append([
                label, Format.number(Double(Proc.rssKiB(child.pid)) / 1024, 1), memory.split, memory.pss,
                "–", "–", "–", Format.number(ready * 1000, 0) + " ms",
            ])
            child.stop()
        }

        // 10,000 operations: created at the simulator (they run for hours at this scale), stored as running jobs.
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let api = Workload.api(base: base, http: http)
        var operationIDs: [String] = []
        for index in 0..<inFlight {
            let call = try ValidatedParams(
                kind: .siteCreatePlain,
                raw: ["display_name": .string("p4-\(index)"), "region": "us-central1"],
                defaultCompany: SimulatorConfiguration().companyID
            ).submitCall(job: 1, attempt: 1)
            guard case .accepted(let id) = await api.submit(call) else {
                throw BenchError("simulator refused a submit")
            }
            operationIDs.append(id)
        }
        let state = scratch + "/busy"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try await Self.storeRunning(operationIDs, path: state + "/kinsta-opsd.sqlite")
        let busy = try await startDaemon(daemonPath, state: state, base: base, maxInFlight: inFlight)
        try await Task.sleep(for: .seconds(5))
        let reader = try DatabaseQueue(
            path: state + "/kinsta-opsd.sqlite",
            configuration: {
                var configuration = Configuration()
                configuration.readonly = true
                return configuration
            }()
        )
        let polls0 = try await reader.read { db in try Int.fetchOne(db, sql: "SELECT sum(poll_count) FROM job") ?? 0 }
        let cpu0 = Proc.cpuSeconds(busy.child.pid)
        let anonAtStart = Proc.anonymousMB(busy.child.pid)
        try await Task.sleep(for: .seconds(window))
        let anonAtEnd = Proc.anonymousMB(busy.child.pid)
        let cpu = Proc.cpuSeconds(busy.child.pid) - cpu0
        let polls =
            try await reader.read { db in try Int.fetchOne(db, sql: "SELECT sum(poll_count) FROM job") ?? 0 } - polls0
        let busyRSS = Proc.rssKiB(busy.child.pid)
        let busyMemory = Proc.memory(busy.child.pid)
        busy.child.stop()

        Format.table(
            "P4 footprint (kinsta-opsd process, release build)",
            [
                "state", "RSS MB", "of it anon / file MB", "PSS MB", "CPU % of a core", "polls in window",
                "CPU s per 1,000 polls", "start → READY",
            ],
            [
                [
                    "idle (empty database)", Format.number(Double(idleRSS) / 1024, 1), idleMemory.split,
                    idleMemory.pss, Format.number(idleCPU * 100, 2), "0",
                    "–", Format.number(idle.secondsToReady * 1000, 0) + " ms",
                ]
            ] + floors + [
                [
                    "\(inFlight) in flight, budget 60/min", Format.number(Double(busyRSS) / 1024, 1), busyMemory.split,
                    busyMemory.pss, Format.number(cpu / window * 100, 2), "\(polls)",
                    polls > 0 ? Format.number(cpu / Double(polls) * 1000, 2) : "–",
                    Format.number(busy.secondsToReady * 1000, 0) + " ms",
                ]
            ],
            notes: [
                "targets: idle RSS < 30 MB; \(inFlight) in flight < 120 MB and < 2 % of a core",
                "anonymous memory of the busy daemon: \(Format.number(anonAtStart, 1)) MB at the window's start, "
                    + "\(Format.number(anonAtEnd, 1)) MB at its end (\(Int(window)) s later)",
                "the floors are kinsta-opsd-floor and kinsta-opsd-floor-nofoundation, built with the daemon: what the "
                    + "stack costs before any of the daemon's code runs",
                "READY here = the socket answers GET /v1/health (spawn to first 200), so it includes process start",
                "anon / file / PSS from /proc/PID/smaps_rollup: file = pages of the binary and shared libraries mapped "
                    + "in; PSS divides each shared page by the processes that map it",
            ]
        )
    }

    struct Started {
        var child: Child
        var secondsToReady: Double
    }

    func startDaemon(_ path: String, state: String, base: String, maxInFlight: Int) async throws -> Started {
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let config = state + "/opsd.toml"
        try "[daemon]\nmax_in_flight = \(maxInFlight)\nlog_level = \"error\"\n".write(
            toFile: config,
            atomically: true,
            encoding: .utf8
        )
        let socket = state + "/s.sock"
        let started = Date()
        let child = try Child.spawn(
            path,
            ["--config", config],
            environment: [
                "KINSTA_API_KEY": Workload.apiKey, "KINSTA_API_BASE_URL": base,
                "KINSTA_COMPANY_ID": SimulatorConfiguration().companyID, "KINSTA_OPSD_STATE_DIR": state,
                "KINSTA_OPSD_SOCKET": socket,
            ]
        )
        return Started(
            child: child,
            secondsToReady: try await Self.waitForHealth(child, socket: socket, since: started)
        )
    }

    /// Seconds from `since` to the first 200 from `GET /v1/health` on `socket`; stops the child if none comes.
    static func waitForHealth(_ child: Child, socket: String, since started: Date) async throws -> Double {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let client = SocketClient(http: http, socketPath: socket)
        for _ in 0..<10_000 {
            if let response = try? await client.get("/v1/health"), response.status == 200 {
                return Date().timeIntervalSince(started)
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        child.stop()
        throw BenchError("\(child.process.executableURL?.lastPathComponent ?? "child") did not answer on \(socket)")
    }

    /// The operations as running jobs, polls due over the next 20 s, as the daemon would have left them.
    static func storeRunning(_ operationIDs: [String], path: String) async throws {
        let database = try OpsDatabase(path: path)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let rows = operationIDs.enumerated().map { index, id in
            let at = now + Int64(index % 20_000)
            return "(\(index + 1), 'site.create_plain', json_object('display_name', 'p4-\(index)', 'region', "
                + "'us-central1', 'company', 'c'), 'site-name:p4-\(index)', 'running', 1, '\(id)', \(now), "
                + "\(now + 7_200_000), 'poll', \(at), \(now), \(now))"
        }
        try await database.executeForTesting(
            """
            INSERT INTO job (id, kind, params, target, state, attempt, operation_id, accepted_at, deadline,
                pending_action, next_action_at, created_at, updated_at)
            VALUES \(rows.joined(separator: ",\n"));
            """
        )
    }

    /// `kinsta-sim` on a loopback port, its operations running for hours (`--duration-scale 100`); returns the child
    /// and its `/v2` base URL.
    static func spawnSimulator(_ path: String, scratch: String, seed: UInt64) async throws -> (Child, String) {
        let sim = try Child.spawn(
            path,
            [
                "--port", "0", "--port-file", scratch + "/sim.port", "--api-key", Workload.apiKey, "--window", "5",
                "--duration-scale", "100", "--seed", "\(seed)", "--seed-sites", "2", "--log-level", "error",
            ],
            environment: [:]
        )
        do {
            let port = try await waitForFile(scratch + "/sim.port").trimmingCharacters(in: .whitespacesAndNewlines)
            return (sim, "http://127.0.0.1:\(port)/v2")
        } catch {
            sim.stop()
            throw error
        }
    }

    static func waitForFile(_ path: String) async throws -> String {
        for _ in 0..<5000 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty { return text }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw BenchError("\(path) never appeared")
    }
}

/// A spawned process, stopped with SIGTERM (SIGKILL after 10 s).
final class Child: Sendable {
    let process: Process
    var pid: Int32 { process.processIdentifier }

    init(process: Process) { self.process = process }

    static func spawn(_ path: String, _ arguments: [String], environment: [String: String]) throws -> Child {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged.removeValue(forKey: "NOTIFY_SOCKET")
        merged.merge(environment) { $1 }
        process.environment = merged
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return Child(process: process)
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<1000 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

enum Proc {
    /// Anonymous and file-backed resident memory, and `Pss`, from /proc/PID/smaps_rollup, formatted in MB.
    static func memory(_ pid: Int32) -> (split: String, pss: String) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else {
            return ("–", "–")
        }
        var fields: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kib = Double(parts[1]) { fields[String(parts[0])] = kib / 1024 }
        }
        // The rollup has no file line of its own: what is resident and not anonymous is mapped from files.
        guard let rss = fields["Rss:"], let anon = fields["Anonymous:"], let pss = fields["Pss:"] else {
            return ("–", "–")
        }
        return (Format.number(anon, 1) + " / " + Format.number(rss - anon, 1), Format.number(pss, 1))
    }

    /// Resident anonymous memory (the process's own, not pages of files), from /proc/PID/smaps_rollup.
    static func anonymousMB(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("Anonymous:") {
            return (Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0)
                / 1024
        }
        return 0
    }

    static func rssKiB(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks
    }
}
