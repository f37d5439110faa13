import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The admin's terminal: the real `kinsta-ops` against the real daemon and simulator. Exit codes, tables, and a
/// `history -f` that rides out a daemon restart without a gap or a duplicate.
@Suite(.serialized) struct CLIEndToEndTests {
    /// A simulator and a daemon on temporary paths, and a way to run `kinsta-ops` against them.
    final class Stack: Sendable {
        let work: URL
        let sim: ChildProcess
        let socket: String
        let environment: [String: String]
        let simRoot: String
        let configPath: String

        init(failureRate: Double, simArguments: [String] = []) async throws {
            work = try shortTemporaryDirectory("ko-cli")
            sim = try ChildProcess(
                BuiltProducts.executable("kinsta-sim"),
                [
                    "--port", "0", "--window", "1", "--duration-scale", "0.01", "--failure-rate", "\(failureRate)",
                    "--seed", "4", "--api-key", "cli-key",
                ] + simArguments,
                environment: ProcessInfo.processInfo.environment,
                name: "kinsta-sim"
            )
            let line = try await withTimeout(30, "kinsta-sim") { [sim] in
                try await sim.waitForLine { $0.hasPrefix("kinsta-sim listening on ") }
            }
            let base = String(line.dropFirst("kinsta-sim listening on ".count))
            simRoot = base.replacingOccurrences(of: "/v2", with: "")
            socket = work.appendingPathComponent("s.sock").path
            configPath = work.appendingPathComponent("c.toml").path
            try
                "[kinsta]\nrequests_per_minute = 6000\nrequest_burst = 100\n[polling]\nadaptive = false\nfirst_poll_seconds = 0.2\ninterval_seconds = 0.2\nmax_interval_seconds = 0.5\nconfirm_seconds = 1\n"
                .write(toFile: configPath, atomically: false, encoding: .utf8)
            var environment = ProcessInfo.processInfo.environment
            environment["KINSTA_API_KEY"] = "cli-key"
            environment["KINSTA_API_BASE_URL"] = base
            environment["KINSTA_COMPANY_ID"] = SimDefaults.company
            environment["KINSTA_OPSD_STATE_DIR"] = work.appendingPathComponent("state").path
            environment["KINSTA_OPSD_SOCKET"] = socket
            environment["KINSTA_OPS_SOCKET"] = socket
            environment.removeValue(forKey: "NOTIFY_SOCKET")
            self.environment = environment
        }

        func startDaemon() async throws -> ChildProcess {
            let daemon = try ChildProcess(
                BuiltProducts.executable("kinsta-opsd"),
                ["--config", configPath],
                environment: environment,
                name: "kinsta-opsd"
            )
            _ = try await withTimeout(30, "kinsta-opsd") { try await daemon.waitForListening() }
            return daemon
        }

        /// Runs `kinsta-ops args…` to completion: (exit status, stdout+stderr lines).
        func ops(_ arguments: [String]) async throws -> (status: Int32, output: [String]) {
            let cli = try ChildProcess(
                BuiltProducts.executable("kinsta-ops"),
                arguments,
                environment: environment,
                name: "kinsta-ops"
            )
            let status = await cli.waitForExit()
            await cli.waitForOutputEnd()
            return (status, cli.output)
        }

        /// Runs `kinsta-ops args…` in a pseudo-terminal (util-linux `script`), as an admin's shell would: (exit status,
        /// the terminal's lines). `arguments` are passed through a shell: keep them to plain words.
        func opsInTerminal(
            _ arguments: [String],
            environment extra: [String: String] = [:]
        ) async throws
            -> (status: Int32, output: [String])
        {
            let command = ([BuiltProducts.executable("kinsta-ops").path] + arguments).joined(separator: " ")
            // An admin's terminal: `swift test` sets NO_COLOR for its own output, which the CLI would honour.
            var terminal = environment
            terminal.removeValue(forKey: "NO_COLOR")
            terminal["TERM"] = terminal["TERM"] ?? "xterm"
            let cli = try ChildProcess(
                URL(fileURLWithPath: "/usr/bin/script"),
                ["-qefc", command, "/dev/null"],
                environment: terminal.merging(extra) { $1 },
                name: "kinsta-ops (pty)"
            )
            let status = await cli.waitForExit()
            await cli.waitForOutputEnd()
            return (status, cli.output.map { $0.replacingOccurrences(of: "\r", with: "") })
        }

        deinit {
            sim.signal(SIGKILL)
            try? FileManager.default.removeItem(at: work)
        }
    }

    enum SimDefaults {
        static let company = "54fb80af-5a1c-4f11-9c2e-aa3d1ae0c001"
    }

    @Test(.timeLimit(.minutes(2)))
    func exitCodesAndTables() async throws {
        let stack = try await Stack(failureRate: 0)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }

        // submit --wait: exit 0 once succeeded
        let submitted = try await stack.ops([
            "submit", "site.create_plain", "--display-name", "CLI One", "--region",
            "us-central1", "--wait",
        ])
        #expect(submitted.status == 0, "\(submitted.output)")
        // … saying first what to expect: the kind's usual time, as the daemon knows it
        #expect(
            submitted.output.contains {
                $0.contains("site.create_plain usually takes ") && $0.contains("none seen yet")
            },
            "\(submitted.output)"
        )
        // jobs: a table with a header and the job
        let jobs = try await stack.ops(["jobs"])
        #expect(jobs.status == 0)
        #expect(jobs.output.first?.hasPrefix("ID") == true)
        #expect(jobs.output.contains { $0.contains("site.create_plain") && $0.contains("succeeded") })
        // show: the key/value block and the event history
        let show = try await stack.ops(["show", "1"])
        #expect(show.status == 0)
        #expect(show.output.contains { $0.contains("succeeded") })
        // history --json: NDJSON passthrough, gap-free
        let history = try await stack.ops(["history", "--json", "--after", "0"])
        let seqs = try history.output.filter { $0.hasPrefix("{") }.map {
            try WireJSON.decoder().decode(EventView.self, from: Data($0.utf8)).seq
        }
        #expect(seqs == Array(1...Int64(seqs.count)))
        #expect(seqs.count >= 4)
        // A refusal from the daemon: exit 2 with its message
        let bad = try await stack.ops(["submit", "site.delete", "--site-id", "../etc"])
        #expect(bad.status == 2)
        #expect(bad.output.contains { $0.contains("site_id") })
        let cancel = try await stack.ops(["cancel", "1"])
        #expect(cancel.status == 2)
        let missing = try await stack.ops(["show", "999"])
        #expect(missing.status == 2)
        // The new reads: tables from Kinsta's answers, through the daemon
        let regions = try await stack.ops(["regions"])
        #expect(regions.status == 0)
        #expect(regions.output.first?.hasPrefix("REGION") == true)
        #expect(regions.output.contains { $0.hasPrefix("us-central1") })
        let users = try await stack.ops(["users"])
        #expect(users.status == 0)
        #expect(users.output.first?.hasPrefix("USER ID") == true)
        #expect(users.output.count >= 2)
        let activity = try await stack.ops(["activity", "--limit", "5"])
        #expect(activity.status == 0, "\(activity.output)")
        #expect(activity.output.first?.hasPrefix("TIME") == true)
        #expect(activity.output.contains { $0.contains("done") })
        // A region the company does not have is refused before Kinsta sees it
        let mars = try await stack.ops([
            "submit", "site.create_plain", "--display-name", "M", "--region", "mars-north1",
        ])
        #expect(mars.status == 2)
        #expect(mars.output.contains { $0.contains("kinsta-ops regions") }, "\(mars.output)")
        // health: the key's expiry from GET /validate
        let health = try await stack.ops(["health"])
        #expect(health.output.contains { $0.hasPrefix("api_key.days_left") }, "\(health.output)")
        // No daemon: one sentence, exit 3
        daemon.signal(SIGKILL)
        _ = await daemon.waitForExit()
        let unreachable = try await stack.ops(["jobs"])
        #expect(unreachable.status == 3)
        #expect(unreachable.output.count == 1, "\(unreachable.output)")
    }

    /// The habits of docker, systemctl and journalctl: global options before the command, several IDs at
    /// once, IDs only, and times for --since / --until.
    @Test(.timeLimit(.minutes(2)))
    func theHabitsAdminsBring() async throws {
        let stack = try await Stack(failureRate: 0)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        for name in ["Habit One", "Habit Two"] {
            let submitted = try await stack.ops([
                "submit", "site.create_plain", "--display-name", name, "--region", "us-central1",
            ])
            #expect(submitted.status == 0, "\(submitted.output)")
        }
        // Several IDs: wait for both, each reported with the job's own time
        let waited = try await stack.ops(["wait", "1", "2"])
        #expect(waited.status == 0, "\(waited.output)")
        #expect(waited.output.contains { $0.hasPrefix("job 1 succeeded after ") }, "\(waited.output)")
        #expect(waited.output.contains { $0.hasPrefix("job 2 succeeded after ") }, "\(waited.output)")
        // Global options before the command are taken (a socket that does not exist: exit 3, not the env's socket)
        #expect(try await stack.ops(["--socket", "/nonexistent/s.sock", "jobs"]).status == 3)
        let hoisted = try await stack.ops(["--json", "--socket=\(stack.socket)", "jobs"])
        #expect(hoisted.status == 0, "\(hoisted.output)")
        let list = try WireJSON.decoder().decode(JobListView.self, from: Data(hoisted.output.joined().utf8))
        #expect(list.jobs.map(\.id) == [2, 1])
        // IDs only
        let quiet = try await stack.ops(["jobs", "-q"])
        #expect(quiet.output == ["2", "1"], "\(quiet.output)")
        // show takes several; with --json, one job a line
        let shown = try await stack.ops(["show", "1", "2"])
        #expect(shown.status == 0)
        #expect(shown.output.filter { $0.hasPrefix("job:") }.count == 2, "\(shown.output)")
        // … with the subject as its target, outputs by name, and no deadline once finished
        #expect(shown.output.contains { $0.hasPrefix("target:") && $0.hasSuffix("Habit One") }, "\(shown.output)")
        #expect(shown.output.contains { $0.hasPrefix("outputs:") }, "\(shown.output)")
        #expect(shown.output.contains { $0.hasPrefix("               site_id = ") }, "\(shown.output)")
        #expect(!shown.output.contains { $0.hasPrefix("deadline:") || $0.hasPrefix("kinsta result:") })
        let shownJSON = try await stack.ops(["show", "--json", "2", "1"])
        #expect(
            try shownJSON.output.map { try WireJSON.decoder().decode(JobView.self, from: Data($0.utf8)).id } == [2, 1]
        )
        // cancel takes several: each refusal on its own line, exit 2, and a missing job does not stop the others
        let cancelled = try await stack.ops(["cancel", "1", "999", "2"])
        #expect(cancelled.status == 2)
        #expect(cancelled.output.filter { $0.hasPrefix("error: ") }.count == 3, "\(cancelled.output)")
        // Times, as journalctl takes them
        let recent = try await stack.ops(["history", "--since", "1 hour ago", "--json"])
        #expect(try JSONValue.lines(recent.output).count >= 8, "\(recent.output)")
        #expect(try await stack.ops(["history", "--until", "1 hour ago"]).output == ["no events"])
        #expect(try await stack.ops(["history", "--since", "tomorrow"]).output == ["no events"])
        #expect(try await stack.ops(["jobs", "--since", "10 minutes ago", "-q"]).output == ["2", "1"])
        #expect(try await stack.ops(["jobs", "--until", "yesterday"]).output == ["no jobs"])
        // A sequence number still works, under its own name and as SPEC's --since SEQ
        let afterSeq = try JSONValue.lines(try await stack.ops(["history", "--json", "--after", "3"]).output)
        let sinceSeq = try JSONValue.lines(try await stack.ops(["history", "--json", "--since", "3"]).output)
        #expect(afterSeq == sinceSeq)
        #expect(afterSeq.first == 4)
        let bad = try await stack.ops(["history", "--since", "last blue moon"])
        #expect(bad.status == 2)
        #expect(bad.output.contains { $0.contains("1 hour ago") }, "\(bad.output)")
        // Did you mean: commands, kinds, states, parameters; and every missing parameter in one message
        func refused(_ arguments: [String], saying text: String) async throws {
            let result = try await stack.ops(arguments)
            #expect(result.status == 2, "\(arguments): \(result.output)")
            #expect(result.output.contains { $0.contains(text) }, "\(arguments): \(result.output)")
        }
        try await refused(["submti"], saying: "did you mean submit?")
        try await refused(["submit", "site.creat"], saying: "did you mean site.create?")
        try await refused(["jobs", "--state", "faild"], saying: "did you mean failed?")
        try await refused(["submit", "site.create_plain"], saying: "needs display_name and region")
        try await refused(
            ["submit", "site.create_plain", "--param", "displayname=X", "--region", "us-central1"],
            saying: "has no parameter displayname (did you mean display_name?)"
        )
        // One style: every error starts with the program's name, usage errors included
        let usage = try await stack.ops(["show"])
        #expect(usage.status == 2)
        #expect(usage.output.first?.hasPrefix("kinsta-ops: ") == true, "\(usage.output)")
        // health: the status first, in words
        let health = try await stack.ops(["health"])
        #expect(health.output.first?.hasPrefix("status:") == true, "\(health.output)")
        #expect(health.output.first?.contains("ok (kinsta-opsd ") == true, "\(health.output)")
        #expect(health.output.contains { $0.hasPrefix("by state:") && $0.contains("succeeded 2") }, "\(health.output)")
        // SIGHUP says what it applied and what waits for a restart
        let config = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        try
            (config.replacingOccurrences(of: "requests_per_minute = 6000", with: "requests_per_minute = 5000")
            + "[daemon]\nlog_level = \"debug\"\n")
            .write(toFile: stack.configPath, atomically: false, encoding: .utf8)
        daemon.signal(SIGHUP)
        let reloaded = try await withTimeout(20, "reload line") {
            try await daemon.waitForLine { $0.contains("configuration reloaded") }
        }
        #expect(reloaded.contains("daemon.log_level"), "\(reloaded)")
        #expect(reloaded.contains("needs_restart=kinsta.requests_per_minute"), "\(reloaded)")
    }

    /// A chain through the real binaries: a site, then a cache clear of the environment it made, its environment
    /// taken from the site's outputs (docs/architecture.md, "Job states").
    @Test(.timeLimit(.minutes(2)))
    func aJobTakesItsParameterFromAnEarlierJobsOutputs() async throws {
        let stack = try await Stack(failureRate: 0)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        let site = try await stack.ops([
            "submit", "site.create_plain", "--display-name", "Chain", "--region", "us-central1",
        ])
        #expect(site.status == 0, "\(site.output)")
        let clear = try await stack.ops(["submit", "cache.clear", "--from", "environment_id=1.env_id", "--wait"])
        #expect(clear.status == 0, "\(clear.output)")
        let shown = try await stack.ops(["show", "--json", "2"])
        let job = try WireJSON.decoder().decode(JobView.self, from: Data(shown.output.joined().utf8))
        #expect(job.state == "succeeded")
        #expect(job.after == [1])
        let first = try WireJSON.decoder().decode(
            JobView.self,
            from: Data(try await stack.ops(["show", "--json", "1"]).output.joined().utf8)
        )
        #expect(job.params["environment_id"] == first.outputs?["env_id"])
        #expect(job.events?.contains { $0.from == "waiting" && $0.to == "queued" } == true)
        let refused = try await stack.ops(["submit", "cache.clear", "--environment-id", "e", "--after", "99"])
        #expect(refused.status == 2)
        #expect(refused.output.contains { $0.contains("there is no job 99") }, "\(refused.output)")
        // Held until approved (then waiting for job 1, already done): the approver is named in the history
        let held = try await stack.ops(["submit", "cache.clear", "--from", "environment_id=1.env_id", "--hold"])
        #expect(held.output.first?.hasPrefix("job 3 held") == true, "\(held.output)")
        #expect(try await stack.ops(["jobs", "--state", "held", "-q"]).output == ["3"])
        let approved = try await stack.ops(["approve", "3"])
        #expect(approved.status == 0, "\(approved.output)")
        #expect(try await stack.ops(["wait", "3"]).status == 0)
        let history = try await stack.ops(["history", "--job", "3"])
        #expect(
            history.output.contains { $0.contains("held → waiting") && $0.contains("approved by uid ") },
            "\(history.output)"
        )
        #expect(try await stack.ops(["approve", "3"]).status == 2)
        // A priority is kept and shown
        let urgent = try await stack.ops([
            "submit", "cache.clear", "--environment-id", "e", "--priority", "7", "--hold",
        ])
        #expect(urgent.status == 0, "\(urgent.output)")
        #expect(try await stack.ops(["show", "4"]).output.contains { $0.hasPrefix("priority:") && $0.hasSuffix(" 7") })
        #expect(
            try await stack.ops(["submit", "cache.clear", "--environment-id", "e", "--priority", "11"]).status == 2
        )
    }

    /// States in colour on a terminal, and never in a pipe or under NO_COLOR.
    @Test(.timeLimit(.minutes(2)))
    func statesAreColouredOnATerminalOnly() async throws {
        let stack = try await Stack(failureRate: 0)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        let submitted = try await stack.ops([
            "submit", "site.create_plain", "--display-name", "Colour", "--region", "us-central1", "--wait",
        ])
        #expect(submitted.status == 0, "\(submitted.output)")
        let green = "\u{1B}[32msucceeded\u{1B}[0m"
        let terminal = try await stack.opsInTerminal(["jobs"])
        #expect(terminal.status == 0, "\(terminal.output)")
        #expect(terminal.output.contains { $0.contains(green) }, "\(terminal.output)")
        // The colour takes no width: the row is as long, less its escape codes, as the header's columns say
        let header = try #require(terminal.output.first { $0.hasPrefix("ID") })
        let row = try #require(terminal.output.first { $0.contains(green) })
        let plainRow = row.replacingOccurrences(of: "\u{1B}[32m", with: "").replacingOccurrences(
            of: "\u{1B}[0m",
            with: ""
        )
        #expect(
            plainRow.range(of: "succeeded")?.lowerBound.utf16Offset(in: plainRow)
                == header.range(of: "STATE")?.lowerBound.utf16Offset(in: header)
        )
        let history = try await stack.opsInTerminal(["history"])
        #expect(history.output.contains { $0.contains("→ " + green) }, "\(history.output)")
        let noColour = try await stack.opsInTerminal(["jobs"], environment: ["NO_COLOR": "1"])
        #expect(noColour.status == 0)
        #expect(!noColour.output.joined().contains("\u{1B}["), "\(noColour.output)")
        #expect(!(try await stack.ops(["jobs"])).output.joined().contains("\u{1B}["))
    }

    /// `kinsta-opsd --help` says where the key comes from and which environment variables count.
    @Test func theDaemonsHelpListsTheKeysSourcesAndTheEnvironment() async throws {
        let help = try ChildProcess(
            BuiltProducts.executable("kinsta-opsd"),
            ["--help"],
            environment: ProcessInfo.processInfo.environment,
            name: "kinsta-opsd --help"
        )
        #expect(await help.waitForExit() == 0)
        await help.waitForOutputEnd()
        let text = help.output.joined(separator: "\n")
        for name in [
            "kinsta-api-key", "api_key_file", "KINSTA_API_KEY", "KINSTA_API_BASE_URL", "KINSTA_COMPANY_ID",
            "KINSTA_NOTIFIED_USER_ID", "KINSTA_OPSD_STATE_DIR", "KINSTA_OPSD_SOCKET", "KINSTA_OPSD_LOG_LEVEL",
            "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY",
        ] {
            #expect(text.contains(name), "\(name)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func waitExitsOneForAFailedJob() async throws {
        let stack = try await Stack(failureRate: 1)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        let result = try await stack.ops([
            "submit", "site.create_plain", "--display-name", "Doomed", "--region", "us",
            "--wait",
        ])
        #expect(result.status == 1, "\(result.output)")
        // Several states at once, as an admin asks for them: every one is kept, not only the last
        func listed(_ arguments: [String]) async throws -> [String] {
            let jobs = try await stack.ops(["jobs"] + arguments)
            #expect(jobs.status == 0, "\(jobs.output)")
            return jobs.output
        }
        #expect(
            try await listed(["--state", "failed", "--state", "needs_attention"]).contains { $0.contains("failed") }
        )
        #expect(
            try await listed(["--state", "needs_attention", "--state", "failed"]).contains { $0.contains("failed") }
        )
        #expect(try await listed(["--state", "needs_attention"]) == ["no jobs"])
        #expect(try await listed(["--attention"]).contains { $0.contains("failed") })
        #expect(try await listed(["--active"]) == ["no jobs"])
        // show: Kinsta's reason, from its activity log
        let show = try await stack.ops(["show", "1"])
        #expect(show.status == 0)
        #expect(
            show.output.contains { $0.hasPrefix("Kinsta's activity log: The environment is blocked") },
            "\(show.output)"
        )
        // Bulk actions by filter: a dry run lists and changes nothing; then every job it found is retried
        let dry = try await stack.ops(["retry", "--state", "failed", "--kind", "site.create_plain", "--dry-run"])
        #expect(dry.status == 0, "\(dry.output)")
        #expect(dry.output.contains { $0.hasPrefix("would retry job 1 (site.create_plain, failed)") }, "\(dry.output)")
        #expect(try await listed(["--state", "failed"]).contains { $0.contains("failed") })
        #expect(try await stack.ops(["retry", "--state", "failed", "--since", "tomorrow"]).output == ["no jobs"])
        let retried = try await stack.ops(["retry", "--state", "failed", "--since", "1 hour ago"])
        #expect(retried.status == 0, "\(retried.output)")
        #expect(
            retried.output.contains { $0.hasPrefix("job 1 queued") && $0.contains("attempt 2") },
            "\(retried.output)"
        )
        #expect(try await stack.ops(["cancel"]).status == 2)
        #expect(try await stack.ops(["cancel", "1", "--state", "queued"]).status == 2)
    }

    @Test(.timeLimit(.minutes(2)))
    func historyFollowShowsAReasonWholeAfterAnEmptyStart() async throws {
        // Given `history -f` started on a daemon with no events yet (the table's widths come from that empty batch)
        let stack = try await Stack(failureRate: 1)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        let tail = try ChildProcess(
            BuiltProducts.executable("kinsta-ops"),
            ["history", "-f"],
            environment: stack.environment,
            name: "history -f"
        )
        defer { tail.signal(SIGKILL) }
        _ = try await withTimeout(30, "the header") { try await tail.waitForLine { $0.hasPrefix("  SEQ") } }
        // When a job fails at Kinsta
        _ = try await stack.ops(["submit", "site.create_plain", "--display-name", "Doomed", "--region", "us", "--wait"])
        // Then its failure line carries the reason whole, as `show` has it, not cut to the empty batch's width
        let failed = try await withTimeout(30, "the failure") {
            try await tail.waitForLine { $0.contains("→ failed") }
        }
        let show = try await stack.ops(["show", "1", "--json"])
        let job = try JSONDecoder().decode(JSONValue.self, from: Data(show.output.joined().utf8))
        let reason = try #require(job["last_error"]?.stringValue)
        #expect(reason.count > 20)
        #expect(failed.contains(reason), "\(failed)")
        #expect(!failed.hasSuffix("…"))
    }

    @Test(.timeLimit(.minutes(2)))
    func aSitesFilterAppliesToTheJSONAScriptReads() async throws {
        let stack = try await Stack(failureRate: 0)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        func sites(_ arguments: [String]) async throws -> [JSONValue] {
            let result = try await stack.ops(["sites", "--json"] + arguments)
            #expect(result.status == 0, "\(result.output)")
            let body = try JSONDecoder().decode(JSONValue.self, from: Data(result.output.joined().utf8))
            return body["sites"]?.array ?? []
        }
        let all = try await sites([])
        #expect(all.count >= 2)
        let wanted = try #require(all.last?["display_name"]?.stringValue)
        // The JSON holds only the site the name picks, as the table does: a script taking the first ID from it
        // gets that site's, not the first of all
        let picked = try await sites(["--name", wanted])
        #expect(picked.map { $0["display_name"]?.stringValue } == [wanted], "\(picked)")
        #expect(picked.first?["id"] == all.last?["id"])
        #expect(try await sites(["--name", "no site is named this"]).isEmpty)
        let table = try await stack.ops(["sites", "--name", wanted])
        #expect(table.output.filter { $0.contains(wanted) }.count == 1, "\(table.output)")
        // One shape for every list: {"<name>": [...]}
        func listed(_ arguments: [String], _ name: String) async throws -> JSONValue? {
            let result = try await stack.ops(arguments + ["--json"])
            #expect(result.status == 0, "\(arguments): \(result.output)")
            let body = try JSONDecoder().decode(JSONValue.self, from: Data(result.output.joined().utf8))
            #expect(body.objectValue?.keys.sorted() == [name], "\(arguments): \(body)")
            return body[name]
        }
        #expect(try await listed(["regions"], "regions")?.array?.isEmpty == false)
        #expect(try await listed(["users"], "users")?.array?.isEmpty == false)
        #expect(try await listed(["deliveries"], "deliveries")?.array?.isEmpty == true)
        #expect(try await listed(["jobs"], "jobs")?.array?.isEmpty == true)
        // And errors, with --json, are the daemon's error object, the CLI's own ones included
        for (arguments, code) in [(["show", "999"], "not_found"), (["submti"], "usage"), (["show"], "usage")] {
            let result = try await stack.ops(arguments + ["--json"])
            #expect(result.status == 2)
            let body = try JSONDecoder().decode(JSONValue.self, from: Data(result.output.joined().utf8))
            #expect(body["error"]?["code"] == .string(code), "\(arguments): \(result.output)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aKeyNearItsExpiryIsWarnedAboutInTheLogAndInHealth() async throws {
        let stack = try await Stack(failureRate: 0, simArguments: ["--key-expires-in-days", "10"])
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        // The check at start: a warning line in the daemon's log
        let warning = try await withTimeout(30, "the key warning") {
            try await daemon.waitForLine { $0.contains("warning") && $0.contains("expires in") }
        }
        #expect(warning.contains("expires in 9 days") || warning.contains("expires in 10 days"), "\(warning)")
        // And in health, with the days left
        let health = try await stack.ops(["health"])
        #expect(health.status == 0)
        let days = health.output.first { $0.hasPrefix("api_key.days_left") }
        #expect(days?.hasSuffix(" 9") == true || days?.hasSuffix(" 10") == true, "\(health.output)")
        #expect(health.output.contains { $0.hasPrefix("api_key.warning") }, "\(health.output)")
    }

    @Test(.timeLimit(.minutes(2)))
    func historyFollowRidesOutADaemonRestart() async throws {
        let stack = try await Stack(failureRate: 0)
        var daemon = try await stack.startDaemon()
        _ = try await stack.ops(["submit", "site.create_plain", "--display-name", "Before", "--region", "us"])
        let tail = try ChildProcess(
            BuiltProducts.executable("kinsta-ops"),
            ["history", "-f", "--json", "--after", "0"],
            environment: stack.environment,
            name: "history -f"
        )
        defer { tail.signal(SIGKILL) }
        _ = try await withTimeout(30, "the first event") { try await tail.waitForLine { $0.contains(#""seq":1,"#) } }

        // When the daemon is killed, and jobs are submitted after it restarts
        daemon.signal(SIGKILL)
        _ = await daemon.waitForExit()
        daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGTERM) }
        _ = try await stack.ops(["submit", "site.create_plain", "--display-name", "After", "--region", "us", "--wait"])
        let events = try JSONValue.lines(try await stack.ops(["history", "--json", "--after", "0"]).output)
        let lastSeq = try #require(events.last)
        _ = try await withTimeout(30, "the tail to catch up") {
            try await tail.waitForLine { $0.contains(#""seq":\#(lastSeq),"#) }
        }

        // Then the tail printed every event exactly once, in order (the job submitted before the kill may still add
        // events after the history above was read)
        let seen = try JSONValue.lines(tail.output)
        let newest = try #require(seen.last)
        #expect(newest >= lastSeq)
        #expect(seen == Array(1...newest))
    }
}

extension JSONValue {
    /// The `seq` of each NDJSON event line among `lines` (other lines, such as notes on stderr, are skipped).
    static func lines(_ lines: [String]) throws -> [Int64] {
        try lines.filter { $0.hasPrefix("{") }.map {
            try WireJSON.decoder().decode(EventView.self, from: Data($0.utf8)).seq
        }
    }
}
