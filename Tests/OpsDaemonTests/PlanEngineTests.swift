import CurlHTTP
import Foundation
import KinstaClient
import OpsCore
import OpsDaemon
import OpsProtocol
import OpsServer
import OpsStore
import OpsTestSupport
import OpsWebhooks
import Testing

/// Plans (docs/architecture.md, "Plans"): inserted whole through the socket API, carried by the real engine and
/// store under the manual clock, ended by one `plan.finished` event and its deliveries.
extension JobEngineTests {
    /// Backup, push staging onto live, clear live's cache: the clear takes its environment from the push.
    static let releasePlan: JSONValue = [
        "name": "release",
        "steps": [
            ["id": "backup", "kind": "backup.create", "params": ["env_id": "env-live", "tag": "before release"]],
            [
                "id": "push", "kind": "environment.push", "after": ["backup"],
                "params": ["site_id": "site-1", "source_env_id": "env-staging", "target_env_id": "env-live"],
            ],
            [
                "id": "clear", "kind": "cache.clear",
                "params": ["environment_id": ["from": ["step": "push", "output": "env_id"]]],
            ],
        ],
    ]

    static func releaseScript(failBackup: Bool = false, slowBackup: Bool = false) -> ScriptedKinstaAPI.Script {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { call in
            failBackup && call.path.contains("manual-backups")
                ? .rejected(status: 422, message: "backups are paused") : .accepted(operationID: "op:\(call.path)")
        }
        script.poll = { id, index in
            if id.contains("manual-backups") {
                return index < (slowBackup ? 20 : 2) ? .inProgress : .finished(data: ["backup_id": 77])
            }
            return index < 2 ? .inProgress : .finished(data: nil)
        }
        return script
    }

    func router(_ h: Harness) -> RouterDriver {
        RouterDriver(api: RouterDriver.socketAPI(database: h.database, now: { h.clock.now() }))
    }

    func post(_ driver: RouterDriver, _ path: String, _ body: JSONValue? = nil) async throws -> HTTPResponse {
        try await driver.execute(
            HTTPRequest(
                method: "POST",
                url: "http://localhost/v1" + path,
                headers: [HTTPHeader("Content-Type", "application/json")],
                body: body.map { Data(CanonicalJSON.text($0).utf8) } ?? Data()
            )
        )
    }

    func planEvents(_ h: Harness) async throws -> [StoredEvent] {
        try await h.database.events(after: 0, limit: 10_000).filter { $0.planID != nil }
    }

    @Test func aPlanRunsItsStepsInOrderPassingOutputsAndEndsWithOneEvent() async throws {
        let h = try harness(Self.releaseScript())
        let registry = WebhookRegistry([
            try WebhookEndpoint(
                name: "hooks",
                url: "https://hooks.invalid/in",
                secret: try WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
                events: nil,
                format: .standard
            ),
            try WebhookEndpoint(
                name: "chat",
                url: "https://hooks.slack.invalid/T/B/x",
                secret: nil,
                events: nil,
                format: .slack
            ),
        ])
        h.database.setDeliveryPlanner(registry.deliveryPlanner())
        let answer = try await post(router(h), "/plans", Self.releasePlan)
        #expect(answer.status == 201)
        let plan = try WireJSON.decoder().decode(PlanView.self, from: answer.body)
        #expect(plan.steps.map(\.step) == ["backup", "push", "clear"])
        #expect(plan.steps.map(\.state) == ["queued", "waiting", "waiting"])
        #expect(plan.steps[2].after == ["push"])
        let firstEvent = try await h.database.events(after: 0, jobID: plan.steps[1].jobID, limit: 1)
        #expect(
            firstEvent.first?.message
                == "submitted by uid \(getuid()), pid \(getpid()) as step push of plan \(plan.id); "
                + "after job \(plan.steps[0].jobID)"
        )
        // Nothing after the backup is sent while it runs
        try await h.engine.run(until: h.clock.now().addingTimeInterval(5), on: h.clock)
        #expect(h.api.submits.map(\.path).allSatisfy { $0.contains("manual-backups") })
        try await h.engine.run(until: h.clock.now().addingTimeInterval(900), on: h.clock)
        let stored = try #require(try await h.database.plan(id: plan.id))
        #expect(stored.outcome == .succeeded)
        #expect(stored.jobs.map(\.state) == [.succeeded, .succeeded, .succeeded])
        #expect(stored.jobs[0].outputs["backup_id"] == 77)
        // The clear went to the environment the push changed, taken from its output
        #expect(stored.jobs[2].params.values["environment_id"] == "env-live")
        #expect(h.api.submits.last?.path == "/sites/tools/clear-cache")
        #expect(h.api.submits.last?.body?["environment_id"] == "env-live")
        #expect(h.api.submits.count == 3)
        // One plan.finished event, after the last job's own, with the counts
        let events = try await planEvents(h)
        #expect(events.count == 1)
        #expect(events[0].jobID == stored.jobs[2].id)
        #expect(events[0].message == "plan \(plan.id) (release) succeeded: 3 succeeded, 0 failed, 0 skipped")
        let all = try await h.database.events(after: 0, limit: 10_000)
        #expect(all.last?.planID == plan.id)
        // The standard endpoint hears of every job and of the plan; Slack of the plan only, in one message
        let standard = try await h.database.deliveries(state: nil, endpoint: "hooks", limit: 1000)
        let slack = try await h.database.deliveries(state: nil, endpoint: "chat", limit: 1000)
        #expect(standard.count == all.count)
        #expect(slack.count == 1)
        let summary = try #require(
            try StrictJSON.parse(slack[0].body).objectValue?["text"]?.stringValue
        )
        #expect(summary.hasPrefix("✅ plan *release* succeeded after "))
        #expect(summary.hasSuffix("(plan \(plan.id)): 3 succeeded, 0 failed, 0 skipped"))
        let body = try #require(try StrictJSON.parse(standard.first!.body).objectValue)
        #expect(body["type"] == "plan.finished")
        let data = try #require(body["data"]?.objectValue?["plan"]?.objectValue)
        #expect(data["counts"] == ["succeeded": 3])
        #expect(data["outcome"] == "succeeded")
    }

    @Test func aStepThatFailsSkipsTheStepsAfterItAndThePlanFailsOnce() async throws {
        let h = try harness(Self.releaseScript(failBackup: true))
        let answer = try await post(router(h), "/plans", Self.releasePlan)
        let plan = try WireJSON.decoder().decode(PlanView.self, from: answer.body)
        try await h.engine.run(until: h.clock.now().addingTimeInterval(900), on: h.clock)
        let stored = try #require(try await h.database.plan(id: plan.id))
        #expect(stored.jobs.map(\.state) == [.failed, .skipped, .skipped])
        #expect(stored.outcome == .failed)
        #expect(h.api.submits.count == 1)
        let events = try await planEvents(h)
        #expect(events.map(\.message) == ["plan \(plan.id) (release) failed: 0 succeeded, 1 failed, 2 skipped"])
    }

    @Test func cancellingAPlanCancelsWhatWasNotSubmittedAndLetsTheRestEnd() async throws {
        let h = try harness(Self.releaseScript(slowBackup: true))
        let driver = router(h)
        let plan = try WireJSON.decoder().decode(
            PlanView.self,
            from: try await post(driver, "/plans", Self.releasePlan).body
        )
        try await h.engine.run(until: h.clock.now().addingTimeInterval(10), on: h.clock)
        #expect(try await h.job(plan.steps[0].jobID).state.isInFlight)
        let cancelled = try await post(driver, "/plans/\(plan.id)/cancel")
        #expect(cancelled.status == 200)
        let view = try WireJSON.decoder().decode(PlanView.self, from: cancelled.body)
        #expect(view.state == "cancelling")
        #expect(view.steps.map(\.state).suffix(2) == ["cancelled", "cancelled"])
        // The backup at Kinsta goes on; the plan ends with it
        try await h.engine.run(until: h.clock.now().addingTimeInterval(1800), on: h.clock)
        let stored = try #require(try await h.database.plan(id: plan.id))
        #expect(stored.jobs.map(\.state) == [.succeeded, .cancelled, .cancelled])
        #expect(stored.outcome == .cancelled)
        #expect(h.api.submits.count == 1)
        #expect(try await planEvents(h).count == 1)
        // A plan that ended cannot be cancelled again
        #expect(try await post(driver, "/plans/\(plan.id)/cancel").status == 409)
    }

    @Test func aPlanWithOneBadStepStoresNothing() async throws {
        let h = try harness()
        var bad = Self.releasePlan.objectValue!
        var steps = bad["steps"]!.arrayValue!
        steps.append(["id": "late", "kind": "cache.clear", "params": ["environment_id": "env-x"], "after": ["nope"]])
        bad["steps"] = .array(steps)
        let answer = try await post(router(h), "/plans", .object(bad))
        #expect(answer.status == 422)
        let error = try WireJSON.decoder().decode(ErrorView.self, from: answer.body)
        #expect(error.error.message == "step late: after: there is no step nope")
        #expect(try await h.database.jobs(states: nil, kind: nil, before: nil, limit: 10).isEmpty)
        #expect(try await h.database.plans(limit: 10).isEmpty)
    }

    @Test func theSameIdempotencyKeyGivesTheSamePlan() async throws {
        let h = try harness()
        let driver = router(h)
        func submit(_ plan: JSONValue) async throws -> HTTPResponse {
            try await driver.execute(
                HTTPRequest(
                    method: "POST",
                    url: "http://localhost/v1/plans",
                    headers: [HTTPHeader("Content-Type", "application/json"), HTTPHeader("Idempotency-Key", "rel-1")],
                    body: Data(CanonicalJSON.text(plan).utf8)
                )
            )
        }
        let first = try await submit(Self.releasePlan)
        let again = try await submit(Self.releasePlan)
        #expect(first.status == 201 && again.status == 200)
        #expect(
            try WireJSON.decoder().decode(PlanView.self, from: first.body).id
                == WireJSON.decoder().decode(PlanView.self, from: again.body).id
        )
        var other = Self.releasePlan.objectValue!
        other["name"] = "another"
        #expect(try await submit(.object(other)).status == 409)
        #expect(try await h.database.jobs(states: nil, kind: nil, before: nil, limit: 10).count == 3)
    }

    /// A plan body may pass the 64 KiB of a job's (a nightly batch of hundreds of steps), up to 1 MiB.
    @Test func aLargePlanIsTakenAndOneOverAMebibyteIsRefused() async throws {
        let h = try harness()
        let steps: [JSONValue] = (0..<600).map { index in
            [
                "id": .string("backup-\(index)"), "kind": "backup.create",
                "params": ["env_id": .string("env-\(index)-\(String(repeating: "x", count: 60))"), "tag": "nightly"],
            ]
        }
        let large: JSONValue = ["name": "nightly", "steps": .array(steps)]
        #expect(CanonicalJSON.text(large).utf8.count > SocketAPI.maxBodyBytes)
        let taken = try await post(router(h), "/plans", large)
        #expect(taken.status == 201)
        #expect(try WireJSON.decoder().decode(PlanView.self, from: taken.body).steps.count == 600)
        let huge: JSONValue = ["name": .string(String(repeating: "n", count: 1_100_000)), "steps": []]
        #expect(try await post(router(h), "/plans", huge).status == 413)
    }
}
