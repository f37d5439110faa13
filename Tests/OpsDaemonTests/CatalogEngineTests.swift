import Foundation
import KinstaClient
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport
import Testing

/// The catalog's ways of settling and occupying, carried by the engine under the manual clock.
extension JobEngineTests {
    static let env = "env-1"

    static func backups(_ notes: [String?]) -> KinstaRead {
        .ok([
            "environment": [
                "display_name": "Live",
                "backups": .array(
                    notes.enumerated().map { index, note in
                        [
                            "id": .integer(Int64(100 + index)), "name": "b", "type": "manual",
                            "note": note.map(JSONValue.string) ?? .null,
                        ]
                    }
                ),
            ]
        ])
    }

    @Test func aManualBackupWhoseAnswerWasLostIsFoundByTheJobsTag() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .ambiguous(reason: "connection reset") }
        script.read = { path in
            path == "/sites/environments/env-1/backups"
                ? Self.backups(["before update", "nightly (kinsta-opsd job 1/1)"]) : .notFound(message: "no")
        }
        let h = try harness(script)
        let job = try await h.submit(
            .init(rawValue: "backup.create")!,
            ["env_id": .string(Self.env), "tag": "nightly"]
        )
        try await h.engine.run(until: h.clock.now().addingTimeInterval(60), on: h.clock)
        let done = try await h.job(job.id)
        #expect(done.state == .succeeded)
        #expect(done.outputs == ["backup_id": .integer(101)])
        // Sent once, tagged with the job and its attempt
        #expect(h.api.submits.count == 1)
        #expect(h.api.submits.first?.body?["tag"] == "nightly (kinsta-opsd job 1/1)")
    }

    @Test func aManualBackupsIDIsReadOnceItsOperationEnds() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .accepted(operationID: "backups:add-manual-1") }
        script.poll = { _, _ in .finished(data: nil) }
        script.read = { _ in Self.backups(["kinsta-opsd job 1/1"]) }
        let h = try harness(script)
        let job = try await h.submit(.init(rawValue: "backup.create")!, ["env_id": .string(Self.env)])
        try await h.engine.run(until: h.clock.now().addingTimeInterval(60), on: h.clock)
        #expect(try await h.job(job.id).outputs == ["backup_id": .integer(100)])
    }

    @Test func anEnvironmentCreateAnswered500IsFoundByItsDisplayName() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .serverError(status: 502, message: "Bad Gateway") }
        script.read = { path in
            guard path == "/sites/site-1/environments" else { return .notFound(message: "no") }
            return .ok(["site": ["environments": [["id": "env-9", "name": "staging-2", "display_name": "QA"]]]])
        }
        let h = try harness(script)
        let job = try await h.submit(
            .init(rawValue: "environment.create_plain")!,
            ["site_id": "site-1", "display_name": "QA"]
        )
        try await h.engine.run(until: h.clock.now().addingTimeInterval(120), on: h.clock)
        let done = try await h.job(job.id)
        #expect(done.state == .succeeded)
        #expect(done.outputs == ["env_id": "env-9"])
        #expect(h.api.submits.count == 1)
    }

    @Test func aCacheClearWhoseAnswerWasLostIsSimplySentAgain() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .ambiguous(reason: "timed out") }
        let h = try harness(script)
        let job = try await h.submit(.init(rawValue: "cache.clear")!, ["environment_id": .string(Self.env)])
        try await h.engine.run(until: h.clock.now().addingTimeInterval(1), on: h.clock)
        h.api.update { $0.submit = { _ in .accepted(operationID: "cache:clear-1") } }
        try await h.engine.run(until: h.clock.now().addingTimeInterval(120), on: h.clock)
        #expect(try await h.job(job.id).state == .succeeded)
        #expect(h.api.submits.count == 2)
        // Nothing was read: a cache clear leaves nothing to read, and a repeat does no harm
        #expect(!h.api.calls.contains { if case .read = $0 { true } else { false } })
    }

    @Test func aWPCLIRunWhoseAnswerWasLostGoesToAnAdminNotAgainToKinsta() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .ambiguous(reason: "timed out") }
        let h = try harness(script)
        let job = try await h.submit(
            .init(rawValue: "wpcli.run")!,
            ["env_id": "54fb80af-576c-4fdc-ba4f-b596c83f15a1", "wp_command": "wp cache flush"]
        )
        try await h.engine.run(until: h.clock.now().addingTimeInterval(600), on: h.clock)
        let done = try await h.job(job.id)
        #expect(done.state == .needsAttention)
        #expect(done.snapshot.lastError?.contains("WP-CLI") == true)
        #expect(h.api.submits.count == 1)
    }

    @Test func aSiteJobWaitsWhileOneOfItsEnvironmentsIsBusy() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { call in .accepted(operationID: "op:\(call.path)") }
        // The cache clear runs for 5 polls, the delete ends at once
        script.poll = { id, index in id.hasPrefix("op:/sites/tools") && index < 5 ? .inProgress : .finished(data: nil) }
        let h = try harness(script)
        h.engine.environments.replace(with: [Self.env: "site-1"], at: h.clock.now())
        let clear = try await h.submit(.init(rawValue: "cache.clear")!, ["environment_id": .string(Self.env)])
        let delete = try await h.submit(.siteDelete, ["site_id": "site-1"])
        let other = try await h.submit(.siteDelete, ["site_id": "site-2"])
        try await h.engine.admit()
        // The other site's delete starts beside the clear; this site's waits
        #expect(try await h.job(clear.id).state == .submitting)
        #expect(try await h.job(other.id).state == .submitting)
        #expect(try await h.job(delete.id).state == .queued)
        try await h.engine.run(until: h.clock.now().addingTimeInterval(600), on: h.clock)
        let cleared = try #require(try await h.job(clear.id).finishedAt)
        let deleteSent = try #require(try await h.job(delete.id).snapshot.acceptedAt)
        #expect(deleteSent >= cleared)
    }

    @Test func aSiteCreateLearnsItsLiveEnvironment() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .accepted(operationID: "sites:add-plain-1") }
        script.poll = { _, _ in .finished(data: ["idSite": "site-7"]) }
        script.read = { path in
            path == "/sites/site-7/environments"
                ? .ok(["site": ["environments": [["id": "env-7", "name": "live", "display_name": "Live"]]]])
                : .notFound(message: "no")
        }
        let h = try harness(script)
        let job = try await h.submit(.siteCreatePlain, Self.plain)
        try await h.engine.run(until: h.clock.now().addingTimeInterval(60), on: h.clock)
        #expect(try await h.job(job.id).outputs == ["site_id": "site-7", "env_id": "env-7"])
        // With one read: Kinsta's data named the site, so the company's sites list was not read for it
        #expect(
            h.api.calls.filter { if case .read = $0 { true } else { false } } == [.read("/sites/site-7/environments")]
        )
        // And the engine now knows the new environment's site
        #expect(h.engine.environments.siteOf["env-7"] == "site-7")
    }
}
