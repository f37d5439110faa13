import Foundation
import KinstaClient
import Logging
import OpsCore
import OpsDaemon
import OpsProtocol
import OpsStore
import OpsTestSupport
import OpsWebhooks
import Testing

/// Durable schedules (docs/architecture.md, "Schedules") under the manual clock: catch-up after downtime fires once,
/// a run whose previous run is still going is skipped, a restart repeats nothing, a changed schedule starts afresh.
extension JobEngineTests {
    static let utc = TimeZone(identifier: "UTC")!

    func scheduler(_ h: Harness, _ schedules: [ScheduleDefinition]) -> Scheduler {
        Scheduler(
            database: h.database,
            clock: h.clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            schedules: schedules
        )
    }

    static func clearSchedule(
        _ cron: String,
        name: String = "nightly-clear",
        jitter: Int = 0
    ) throws
        -> ScheduleDefinition
    {
        ScheduleDefinition(
            name: name,
            cron: try CronSchedule(cron),
            timeZone: utc,
            target: .job(
                try ValidatedParams(
                    kind: .init(rawValue: "cache.clear")!,
                    raw: ["environment_id": "env-1"],
                    defaultCompany: nil
                ),
                note: nil,
                priority: 0,
                hold: false
            ),
            jitterSeconds: jitter
        )
    }

    static func at(_ text: String) -> Date { CanonicalJSON.parseDate(text)! }

    @Test func aScheduleFiresAtItsTimeAndOnceForAllTheRunsMissedWhileDown() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .accepted(operationID: "op-1") }
        script.poll = { _, _ in .finished(data: nil) }
        let h = try harness(script)
        h.clock.advance(to: Self.at("2027-02-01T02:00:00Z"))
        let scheduler = scheduler(h, [try Self.clearSchedule("0 3 * * *")])
        #expect(try await scheduler.tick().isEmpty)
        #expect(try await scheduler.nextWake() == Self.at("2027-02-01T03:00:00Z"))
        h.clock.advance(to: Self.at("2027-02-01T03:00:00Z"))
        let first = try await scheduler.tick()
        #expect(first.count == 1)
        guard case .fired(nil, let jobID?) = first[0].result else { throw EngineTestError("not fired: \(first)") }
        let events = try await h.database.events(after: 0, jobID: jobID, limit: 1)
        #expect(events.first?.message == "started by schedule nightly-clear for its run of 2027-02-01 03:00 UTC")
        #expect(try await scheduler.tick().isEmpty)
        try await h.engine.run(until: h.clock.now().addingTimeInterval(60), on: h.clock)
        #expect(try await h.job(jobID).state == .succeeded)

        // When the daemon is down for three days, and started again (a new scheduler on the same store)
        h.clock.advance(to: Self.at("2027-02-04T04:10:00Z"))
        let restarted = self.scheduler(h, [try Self.clearSchedule("0 3 * * *")])
        let caughtUp = try await restarted.tick()
        #expect(caughtUp.count == 1)
        #expect(caughtUp[0].runAt == Self.at("2027-02-04T03:00:00Z"))
        #expect(caughtUp[0].missed == 2)
        guard case .fired(_, let second?) = caughtUp[0].result else { throw EngineTestError("not fired") }
        #expect(
            try await h.database.events(after: 0, jobID: second, limit: 1).first?.message
                == "started by schedule nightly-clear for its run of 2027-02-04 03:00 UTC; 2 earlier runs missed "
                + "while the daemon was down fired as this one"
        )
        // And nothing fires again until the next run
        #expect(try await restarted.tick().isEmpty)
        #expect(try await h.database.jobs(states: nil, kind: nil, before: nil, limit: 10).count == 2)
        let state = try #require(try await h.database.scheduleStates()["nightly-clear"])
        #expect(state.lastRunAt == Self.at("2027-02-04T03:00:00Z"))
        #expect(state.lastJobID == second)
        #expect(try await restarted.nextWake() == Self.at("2027-02-05T03:00:00Z"))
    }

    @Test func aRunWhosePreviousRunIsStillGoingIsSkippedAndRecorded() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { _ in .accepted(operationID: "op-1") }
        script.poll = { _, index in index < 1000 ? .inProgress : .finished(data: nil) }
        let h = try harness(script)
        h.database.setDeliveryPlanner(
            WebhookRegistry([
                try WebhookEndpoint(
                    name: "chat",
                    url: "https://hooks.slack.invalid/T/B/x",
                    secret: nil,
                    events: nil,
                    format: .slack
                )
            ]).deliveryPlanner()
        )
        h.clock.advance(to: Self.at("2027-02-01T00:00:00Z"))
        let scheduler = scheduler(h, [try Self.clearSchedule("*/10 * * * *", name: "often")])
        try await scheduler.tick()
        h.clock.advance(to: Self.at("2027-02-01T00:10:00Z"))
        guard case .fired(_, let running?) = try await scheduler.tick().first?.result else {
            throw EngineTestError("not fired")
        }
        try await h.engine.run(until: h.clock.now().addingTimeInterval(60), on: h.clock)
        #expect(try await h.job(running).state == .running)
        // The next run comes while it still runs: skipped, recorded on the job still going
        h.clock.advance(to: Self.at("2027-02-01T00:20:00Z"))
        let outcome = try #require(try await scheduler.tick().first)
        guard case .skipped(let going, let message) = outcome.result else { throw EngineTestError("\(outcome)") }
        #expect(going == running)
        #expect(
            message
                == "schedule often: its run of 2027-02-01 00:20 UTC was skipped: the previous run (job \(running)) is still going"
        )
        let note = try #require(try await h.database.events(after: 0, jobID: running, limit: 100).last)
        #expect(note.schedule == "often" && note.from == .running && note.to == .running)
        #expect(try await h.database.jobs(states: nil, kind: nil, before: nil, limit: 10).count == 1)
        #expect(try await h.database.scheduleStates()["often"]?.lastResult == "skipped")
        // And Slack hears of it
        let newest = try #require(try await h.database.deliveries(state: nil, endpoint: "chat", limit: 1).first)
        #expect(newest.eventSeq == note.seq)
        #expect(
            try StrictJSON.parse(newest.body).objectValue?["text"]
                == .string(
                    "⏭ schedule *often* skipped a run: the previous one (job \(running), cache.clear) is still running"
                )
        )
        // Once it has ended, the next run fires
        _ = try await h.database.update(jobID: running, now: h.clock.now()) { job in
            var rng = SplitMix64(seed: 1)
            return try JobMachine(policy: h.engine.policyForTesting)
                .step(job.snapshot, .polled(.finished(data: nil)), now: h.clock.now(), using: &rng)
        }
        #expect(try await h.job(running).state == .succeeded)
        h.clock.advance(to: Self.at("2027-02-01T00:30:00Z"))
        guard case .fired = try await scheduler.tick().first?.result else { throw EngineTestError("not fired") }
    }

    @Test func aChangedScheduleStartsAfreshAndAPlanScheduleStartsItsPlan() async throws {
        let h = try harness()
        h.clock.advance(to: Self.at("2027-02-01T02:00:00Z"))
        let scheduler = scheduler(h, [try Self.clearSchedule("0 3 * * *")])
        try await scheduler.tick()
        // Changed (SIGHUP) to an hourly line while nothing ran: no run of the old line is caught up
        h.clock.advance(to: Self.at("2027-02-01T05:30:00Z"))
        scheduler.replace([try Self.clearSchedule("15 * * * *")])
        #expect(try await scheduler.tick().isEmpty)
        #expect(try await scheduler.nextWake() == Self.at("2027-02-01T06:15:00Z"))
        // A plan's schedule inserts the whole plan, marked with the schedule
        let plan = try ValidatedPlan(
            json: [
                "name": "nightly",
                "steps": [
                    ["id": "b1", "kind": "backup.create", "params": ["env_id": "env-1"]],
                    ["id": "b2", "kind": "backup.create", "params": ["env_id": "env-2"]],
                ],
            ],
            defaults: ParamDefaults()
        )
        scheduler.replace([
            ScheduleDefinition(
                name: "nightly",
                cron: try CronSchedule("0 6 * * *"),
                timeZone: Self.utc,
                target: .plan(file: "nightly.toml", plan),
                jitterSeconds: 900
            )
        ])
        let offset = CronSchedule.jitterOffset(name: "nightly", jitter: 900)
        h.clock.advance(to: Self.at("2027-02-01T06:00:00Z").addingTimeInterval(offset - 1))
        #expect(try await scheduler.tick().isEmpty)
        h.clock.advance(by: 1)
        guard case .fired(let planID?, nil) = try await scheduler.tick().first?.result else {
            throw EngineTestError("not fired")
        }
        let stored = try #require(try await h.database.plan(id: planID))
        #expect(stored.schedule == "nightly" && stored.jobs.count == 2)
        let views = try await scheduler.views()
        #expect(views.map(\.name) == ["nightly"])
        #expect(views[0].lastPlanID == planID && views[0].lastResult == "fired")
        #expect(views[0].nextRunAt == Self.at("2027-02-02T06:00:00Z").addingTimeInterval(offset))
    }

    /// The service itself: it sleeps on the clock until the next run, fires it when the clock gets there, and a
    /// reload (SIGHUP) wakes it to sleep until the new next run.
    @Test(.timeLimit(.minutes(1))) func theServiceSleepsUntilTheNextRunAndWakesOnAReload() async throws {
        let h = try harness()
        h.clock.advance(to: Self.at("2027-02-01T02:59:00Z"))
        let scheduler = scheduler(h, [try Self.clearSchedule("0 3 * * *")])
        let service = Task { try await ScheduleService(scheduler: scheduler).run() }
        defer { service.cancel() }
        // Each step is the service reaching its wait on the clock: awaited as an event, not polled
        await h.clock.sleeper(until: Self.at("2027-02-01T03:00:00Z"))
        h.clock.advance(to: Self.at("2027-02-01T03:00:00Z"))
        // The next run is tomorrow; the service looks again within the hour (a clock set forward is noticed). It
        // sleeps only once the run it handled is stored.
        await h.clock.sleeper(until: Self.at("2027-02-01T04:00:00Z"))
        #expect(try await h.database.jobs(states: nil, kind: nil, before: nil, limit: 10).count == 1)
        scheduler.replace([try Self.clearSchedule("5 3 * * *", name: "later")])
        await h.clock.sleeper(until: Self.at("2027-02-01T03:05:00Z"))
    }

    /// A run that falls due while commits fail (a full disk) is not recorded as handled, so it fires once writes go
    /// through again: late, never lost, never twice.
    @Test func aRunDueWhileStorageFailsFiresOnceWritesGoThroughAgain() async throws {
        let h = try harness()
        h.clock.advance(to: Self.at("2027-02-01T02:00:00Z"))
        let scheduler = scheduler(h, [try Self.clearSchedule("0 3 * * *")])
        try await scheduler.tick()
        h.clock.advance(to: Self.at("2027-02-01T03:00:00Z"))
        try await h.database.setWritesFailForTesting(true)
        await #expect(throws: (any Error).self) { try await scheduler.tick() }
        h.clock.advance(to: Self.at("2027-02-01T03:01:00Z"))
        await #expect(throws: (any Error).self) { try await scheduler.tick() }
        try await h.database.setWritesFailForTesting(false)
        h.clock.advance(to: Self.at("2027-02-01T03:02:00Z"))
        let outcomes = try await scheduler.tick()
        #expect(outcomes.count == 1)
        #expect(outcomes.first?.runAt == Self.at("2027-02-01T03:00:00Z"))
        #expect(outcomes.first?.missed == 0)
        #expect(try await scheduler.tick().isEmpty)
        #expect(try await h.database.jobs(states: nil, kind: nil, before: nil, limit: 10).count == 1)
    }

    /// What a schedule stores of itself (to notice a change) holds no secret parameter: it stays in the database,
    /// unlike a job's secrets, which are erased once Kinsta has them.
    @Test func aSchedulesStoredDefinitionHoldsNoSecret() throws {
        let plan = try ValidatedPlan(
            json: [
                "name": "onboard",
                "steps": [
                    [
                        "id": "site", "kind": "site.create",
                        "params": [
                            "display_name": "Client", "region": "us-central1", "admin_email": "a@example.com",
                            "admin_user": "admin", "admin_password": "sched-secret-pw-1", "site_title": "Client",
                        ],
                    ]
                ],
            ],
            defaults: ParamDefaults(company: "company-1")
        )
        let definition = ScheduleDefinition(
            name: "onboard",
            cron: try CronSchedule("@daily"),
            timeZone: Self.utc,
            target: .plan(file: "onboard.toml", plan),
            jitterSeconds: 0
        ).definition
        #expect(definition.contains("Client"))
        #expect(!definition.contains("sched-secret-pw-1"))
    }
}
