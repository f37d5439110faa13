import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A plan through the real binaries: `kinsta-ops plan run` with the shipped example plan, the daemon killed with
/// SIGKILL while a step is at Kinsta, and started again. Nothing may be submitted twice, and the plan must end as if
/// there had been no crash: every step succeeded, the output passed, one `plan.finished`.
@Suite(.serialized) struct PlanEndToEndTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/examples/release.toml")

    @Test(.timeLimit(.minutes(3)))
    func theReleasePlanSurvivesSIGKILLAndEndsAsIfNothingHappened() async throws {
        let stack = try await CLIEndToEndTests.Stack(failureRate: 0, simArguments: ["--duration-scale", "0.05"])
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let first = try await stack.startDaemon()
        defer { first.signal(SIGKILL) }

        // Given the example plan, filled in with the simulator's site
        let state = try await getJSON(http, stack.simRoot + "/_sim/state")
        let site = try #require(state["sites"]?.array?.dropFirst().first)
        let environments = try #require(site["environments"]?.array)
        let live = try #require(environments.first { $0["name"] == "live" }?["id"]?.stringValue)
        let staging = try #require(environments.first { $0["name"] == "staging" }?["id"]?.stringValue)
        let siteID = try #require(site["id"]?.stringValue)
        let planFile = stack.work.appendingPathComponent("release.toml").path
        try String(contentsOf: Self.example, encoding: .utf8)
            .replacingOccurrences(of: "LIVE_ENV_ID", with: live)
            .replacingOccurrences(of: "STAGING_ENV_ID", with: staging)
            .replacingOccurrences(of: "SITE_ID", with: siteID)
            .write(toFile: planFile, atomically: false, encoding: .utf8)

        // When it is run, and the daemon is killed once the push is at Kinsta
        let run = try await stack.ops(["plan", "run", planFile, "--json"])
        #expect(run.status == 0, "\(run.output)")
        let plan = try WireJSON.decoder().decode(PlanView.self, from: Data(run.output.joined(separator: "\n").utf8))
        #expect(plan.steps.map(\.step) == ["backup", "push", "clear"])
        let push = plan.steps[1].jobID
        let seen = EventLog()
        try await withTimeout(60, "the push to reach Kinsta") {
            try await follow(http, stack.socket, after: 0, into: seen) { log in
                log.jobs(reaching: ["accepted", "running", "succeeded"]).contains(push)
            }
        }
        first.signal(SIGKILL)
        #expect(await first.waitForExit() == SIGKILL)
        #expect(seen.jobsLastIn(["accepted", "running"]).contains(push), "the push was not in flight at the kill")
        let second = try await stack.startDaemon()
        defer { second.signal(SIGKILL) }

        // Then `plan wait` sees it end: every step succeeded
        let waited = try await stack.ops(["plan", "wait", String(plan.id), "--timeout", "90"])
        #expect(waited.status == 0, "\(waited.output)")
        #expect(
            waited.output.last?.hasPrefix("plan \(plan.id) release succeeded after ") == true,
            "\(waited.output)"
        )
        let shown = try await stack.ops(["plan", "show", String(plan.id), "--json"])
        let ended = try WireJSON.decoder().decode(PlanView.self, from: Data(shown.output.joined(separator: "\n").utf8))
        #expect(ended.state == "succeeded")
        #expect(ended.counts == ["succeeded": 3])
        #expect(ended.steps[1].outputs?["env_id"] == .string(live))

        // And Kinsta received each step once, the clear on the environment the push changed
        let requests = try await getJSON(http, stack.simRoot + "/_sim/requests").array ?? []
        let writes = requests.filter { ["POST", "PUT", "DELETE"].contains($0["method"]?.stringValue ?? "") }
        let paths = writes.compactMap { $0["path"]?.stringValue }
        #expect(paths.filter { $0.hasSuffix("/manual-backups") }.count == 1, "\(paths)")
        #expect(paths.filter { $0.hasSuffix("/sites/\(siteID)/environments") }.count == 1, "\(paths)")
        #expect(paths.filter { $0.hasSuffix("/tools/clear-cache") }.count == 1, "\(paths)")
        let clear = try #require(writes.first { $0["path"]?.stringValue?.hasSuffix("/tools/clear-cache") == true })
        #expect(clear["body"]?["environment_id"] == .string(live), "\(clear)")

        // And the history holds one plan.finished, last, with no gap
        let all = try await eventsAfter(http, stack.socket, 0)
        #expect(all.map(\.seq) == Array(1...Int64(all.count)))
        #expect(all.filter { $0.planID != nil }.map(\.seq) == [all.last!.seq])
        #expect(all.last?.message == "plan \(plan.id) (release) succeeded: 3 succeeded, 0 failed, 0 skipped")
        second.signal(SIGTERM)
        #expect(await second.waitForExit() == 0)
    }

    /// The onboarding example as shipped: a site, then its staging environment and a domain on its live environment
    /// (both taking the site's outputs), then a backup once the domain is on. `plan run --wait` prints each change.
    @Test(.timeLimit(.minutes(2)))
    func theOnboardingExampleRunsAsShipped() async throws {
        let stack = try await CLIEndToEndTests.Stack(failureRate: 0)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        let file = Self.example.deletingLastPathComponent().appendingPathComponent("onboard.json").path
        let run = try await stack.ops(["plan", "run", file, "--wait", "--timeout", "60"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.first == "plan 1 onboard a client: 4 steps", "\(run.output)")
        #expect(run.output.contains { $0.hasPrefix("staging (job 2, environment.create_plain) succeeded") })
        #expect(run.output.last?.hasPrefix("plan 1 onboard a client succeeded after ") == true, "\(run.output)")
        #expect(run.output.last?.hasSuffix(": 4 succeeded") == true, "\(run.output)")
        // A plan with a cycle is refused whole, naming its steps; nothing is stored
        let cyclic = stack.work.appendingPathComponent("cycle.toml").path
        try """
        name = "cycle"
        [[steps]]
        id = "a"
        kind = "cache.clear"
        after = ["b"]
        params = { environment_id = "env-1" }
        [[steps]]
        id = "b"
        kind = "cache.clear"
        after = ["a"]
        params = { environment_id = "env-1" }
        """.write(toFile: cyclic, atomically: false, encoding: .utf8)
        let refused = try await stack.ops(["plan", "run", cyclic])
        #expect(refused.status == 2)
        #expect(refused.output.contains { $0.contains("steps a → b → a form a cycle") }, "\(refused.output)")
        let list = try await stack.ops(["plan", "list"])
        #expect(list.output.count == 2, "\(list.output)")
    }

    /// `kinsta-ops schedules` lists the configured schedules with their next run; SIGHUP applies a changed list.
    @Test(.timeLimit(.minutes(2)))
    func schedulesAreListedAndReloadedOnSIGHUP() async throws {
        let stack = try await CLIEndToEndTests.Stack(failureRate: 0)
        let base = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        let schedule = { (name: String, cron: String) in
            base + """

                [[schedules]]
                name = "\(name)"
                cron = "\(cron)"
                timezone = "Europe/Berlin"
                kind = "cache.clear"
                params = { environment_id = "env-1" }

                """
        }
        try schedule("nightly-clear", "30 2 * * *").write(toFile: stack.configPath, atomically: false, encoding: .utf8)
        let daemon = try await stack.startDaemon()
        defer { daemon.signal(SIGKILL) }
        let listed = try await stack.ops(["schedules"])
        #expect(listed.status == 0, "\(listed.output)")
        #expect(listed.output.first?.hasPrefix("NAME") == true)
        #expect(
            listed.output.contains {
                $0.contains("nightly-clear") && $0.contains("30 2 * * *") && $0.contains("never")
            },
            "\(listed.output)"
        )
        let json = try await stack.ops(["schedules", "--json"])
        let view = try WireJSON.decoder().decode(ScheduleListView.self, from: Data(json.output.joined().utf8))
        let next = try #require(view.schedules.first?.nextRunAt)
        var berlin = Calendar(identifier: .gregorian)
        berlin.timeZone = TimeZone(identifier: "Europe/Berlin")!
        #expect(berlin.component(.hour, from: next) == 2 && berlin.component(.minute, from: next) == 30)
        #expect(next > Date() && next < Date().addingTimeInterval(86_400 + 3600))

        // SIGHUP with another list: the journal says it applied it, and the socket shows it
        try schedule("weekly-clear", "0 6 * * mon").write(toFile: stack.configPath, atomically: false, encoding: .utf8)
        daemon.signal(SIGHUP)
        _ = try await withTimeout(20, "the reload") {
            try await daemon.waitForLine { $0.contains("configuration reloaded") && $0.contains("schedules") }
        }
        let reloaded = try await stack.ops(["schedules", "--json"])
        let names = try WireJSON.decoder().decode(ScheduleListView.self, from: Data(reloaded.output.joined().utf8))
            .schedules.map(\.name)
        #expect(names == ["weekly-clear"])
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
