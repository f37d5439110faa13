import Foundation
import OpsCore
import OpsDaemon
import Testing

/// `[[schedules]]`: each entry checked at load (its cron line, zone and target, a plan file read and checked whole),
/// shown by `check-config` as TOML that reads back as itself.
extension ConfigLoaderTests {
    static let releaseExample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/examples/release.toml").path

    @Test func schedulesAreReadCheckedAndShownAsTOMLThatReadsBack() throws {
        let first = try ConfigLoader(environment: env).load(
            path: try file(
                """
                [[schedules]]
                name = "nightly-backup"
                cron = "30 2 * * *"
                timezone = "Europe/Berlin"
                jitter_seconds = 900
                kind = "backup.create"
                params = { env_id = "env-live", tag = "nightly" }
                priority = -5

                [[schedules]]
                name = "release"
                cron = "0 6 * * mon"
                plan_file = "\(Self.releaseExample)"
                """
            )
        )
        #expect(first.schedules.map(\.name) == ["nightly-backup", "release"])
        #expect(first.schedules[0].timeZone.identifier == "Europe/Berlin")
        #expect(first.schedules[0].jitterSeconds == 900)
        guard case .job(let params, _, let priority, _) = first.schedules[0].target else {
            Issue.record("not a job")
            return
        }
        #expect(params.values["tag"] == "nightly" && priority == -5)
        guard case .plan(_, let plan) = first.schedules[1].target else {
            Issue.record("not a plan")
            return
        }
        #expect(plan.steps.map(\.id) == ["backup", "push", "clear"])
        #expect(first.schedules[1].timeZoneName == "UTC")
        let summary = first.redactedSummary
        #expect(summary.contains("[[schedules]]\nname = \"nightly-backup\"\ncron = \"30 2 * * *\""))
        let second = try ConfigLoader(environment: env).load(path: try file(summary))
        #expect(second.redactedSummary == summary)
        #expect(second.schedules == first.schedules)
    }

    @Test(arguments: [
        ("cron = \"0 3 * *\"\nkind = \"cache.clear\"", "schedule s: cron \"0 3 * *\" has 4 fields"),
        ("cron = \"0 3 * * *\"\ntimezone = \"Mars/Olympus\"\nkind = \"cache.clear\"", "unknown timezone Mars/Olympus"),
        (
            "cron = \"0 3 * * *\"\nkind = \"cache.clear\"\nparams = { environment_id = \"e\" }\ncorn = 1",
            "unknown key corn"
        ),
        ("cron = \"0 3 * * *\"", "give plan_file (a plan) or kind (one job)"),
        ("cron = \"0 3 * * *\"\nkind = \"cache.clear\"", "cache.clear needs environment_id"),
        (
            "cron = \"0 3 * * *\"\nplan_file = \"/nonexistent/plan.toml\"",
            "cannot read the plan file /nonexistent/plan.toml"
        ),
        ("cron = \"0 3 * * *\"\nkind = \"cache.clean\"", "unknown kind cache.clean (did you mean cache.clear?)"),
    ])
    func aBadScheduleIsRefusedWithItsReason(body: String, expected: String) throws {
        let path = try file("[[schedules]]\nname = \"s\"\n" + body)
        #expect {
            try ConfigLoader(environment: env).load(path: path)
        } throws: { "\($0)".contains(expected) }
    }

    @Test func aPlanFileWithACycleIsRefusedAtLoad() throws {
        let plan = try file(
            """
            name = "loop"
            [[steps]]
            id = "a"
            kind = "cache.clear"
            after = ["a"]
            params = { environment_id = "e" }
            """
        )
        let path = try file("[[schedules]]\nname = \"loop\"\ncron = \"@daily\"\nplan_file = \"\(plan)\"")
        #expect {
            try ConfigLoader(environment: env).load(path: path)
        } throws: { "\($0)".contains("schedule loop: plan_file \(plan): steps a → a form a cycle") }
    }
}
