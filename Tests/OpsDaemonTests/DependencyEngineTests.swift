import Foundation
import KinstaClient
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport
import Testing

/// Workflows (docs/architecture.md, "Job states"): `after`, `waiting` and `skipped`, and parameters taken from earlier jobs' outputs,
/// carried by the real engine and store under the manual clock.
extension JobEngineTests {
    func submit(
        _ h: Harness,
        _ kind: JobKind,
        _ raw: [String: JSONValue],
        after: [Int64] = []
    ) async throws -> StoredJob {
        let params = try ValidatedParams(
            kind: kind,
            raw: raw,
            defaults: ParamDefaults(company: "company-1"),
            allowingReferences: true
        )
        guard
            case .created(let job) = try await h.database.insert(
                NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil, after: after),
                now: h.clock.now()
            )
        else { throw EngineTestError("not created") }
        return job
    }

    static func from(_ job: Int64, _ output: String) -> JSONValue { OutputReference(job: job, output: output).json }

    /// A backup, then a cache clear of the environment a new environment create made: the clear waits, takes its
    /// environment from the create's outputs when it succeeded, and only then goes to Kinsta.
    @Test func aJobAfterAnotherWaitsAndTakesItsParameterFromTheOutputs() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { call in .accepted(operationID: "op:\(call.path)") }
        script.poll = { id, index in index < 3 ? .inProgress : .finished(data: nil) }
        script.read = { path in
            guard path == "/sites/site-1/environments" else { return .notFound(message: "no") }
            return .ok(["site": ["environments": [["id": "env-new", "name": "qa", "display_name": "QA"]]]])
        }
        let h = try harness(script)
        let create = try await h.submit(
            .init(rawValue: "environment.create_plain")!,
            ["site_id": "site-1", "display_name": "QA"]
        )
        let clear = try await submit(
            h,
            .init(rawValue: "cache.clear")!,
            ["environment_id": Self.from(create.id, "env_id")]
        )
        #expect(clear.state == .waiting)
        // While the create runs, the clear is not sent
        try await h.engine.run(until: h.clock.now().addingTimeInterval(3), on: h.clock)
        #expect(try await h.job(clear.id).state == .waiting)
        #expect(!h.api.submits.contains { $0.path.contains("env-new") })
        try await h.engine.run(until: h.clock.now().addingTimeInterval(300), on: h.clock)
        #expect(try await h.job(create.id).outputs["env_id"] == "env-new")
        let done = try await h.job(clear.id)
        #expect(done.state == .succeeded)
        #expect(done.params.values["environment_id"] == "env-new")
        #expect(done.target.contains("env-new"))
        // Sent once, to the environment the create made; the event says where the value came from
        #expect(
            h.api.submits.filter { $0.path.contains("/tools/clear-cache") || $0.path.contains("env-new") }.count == 1
        )
        let events = try await h.database.events(after: 0, jobID: clear.id, limit: 100)
        #expect(events.first?.to == .waiting)
        let released = try #require(events.first { $0.from == .waiting })
        #expect(released.to == .queued)
        #expect(released.message == "after job \(create.id) succeeded; environment_id from job \(create.id)'s env_id")
    }

    /// A job that fails skips what came after it, and in turn what came after that; one that was not after it runs.
    @Test func aFailureSkipsEverythingAfterItAndNothingElse() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { call in
            call.body?["environment_id"] == "env-bad"
                ? .rejected(status: 422, message: "no such environment") : .accepted(operationID: "op:\(call.path)")
        }
        script.poll = { _, _ in .finished(data: nil) }
        let h = try harness(script)
        let bad = try await h.submit(.init(rawValue: "cache.clear")!, ["environment_id": "env-bad"])
        let second = try await submit(h, .init(rawValue: "php.restart")!, ["environment_id": "env-1"], after: [bad.id])
        let third = try await submit(
            h,
            .init(rawValue: "cache.clear")!,
            ["environment_id": "env-2"],
            after: [second.id]
        )
        let unrelated = try await submit(h, .init(rawValue: "cache.clear")!, ["environment_id": "env-3"])
        try await h.engine.run(until: h.clock.now().addingTimeInterval(120), on: h.clock)
        #expect(try await h.job(bad.id).state == .failed)
        let skipped = try await h.job(second.id)
        #expect(skipped.state == .skipped)
        #expect(skipped.snapshot.lastError == "skipped: job \(bad.id) (cache.clear) ended failed")
        #expect(try await h.job(third.id).state == .skipped)
        #expect(try await h.job(third.id).snapshot.lastError == "skipped: job \(second.id) (php.restart) ended skipped")
        #expect(try await h.job(unrelated.id).state == .succeeded)
        // Nothing was sent for the skipped ones
        #expect(!h.api.submits.contains { ["env-1", "env-2"].contains($0.body?["environment_id"]) })
    }

    /// After a job that ended already: admitted (or skipped) at once, in the transaction that stores it.
    @Test func aJobAfterOneThatEndedAlreadyMovesAtOnce() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { call in .accepted(operationID: "op:\(call.path)") }
        script.poll = { _, _ in .finished(data: nil) }
        script.read = { path in
            guard path == "/sites/site-1/environments" else { return .notFound(message: "no") }
            return .ok(["site": ["environments": [["id": "env-9", "name": "qa", "display_name": "QA"]]]])
        }
        let h = try harness(script)
        let site = try await h.submit(
            .init(rawValue: "environment.create_plain")!,
            ["site_id": "site-1", "display_name": "QA"]
        )
        try await h.engine.run(until: h.clock.now().addingTimeInterval(300), on: h.clock)
        let created = try await h.job(site.id)
        #expect(created.state == .succeeded)
        #expect(created.outputs["env_id"] == "env-9")
        let after = try await submit(
            h,
            .init(rawValue: "cache.clear")!,
            ["environment_id": Self.from(site.id, "env_id")]
        )
        #expect(after.state == .queued)
        #expect(after.params.values["environment_id"] == created.outputs["env_id"])
        // A cancelled one: whatever comes after it is skipped at once
        let held = try await h.submit(.init(rawValue: "cache.clear")!, ["environment_id": "env-4"])
        let machine = JobMachine(policy: h.engine.policyForTesting)
        let now = h.clock.now()
        _ = try await h.database.update(jobID: held.id, now: now) { job in
            var rng = SplitMix64(seed: 1)
            return try machine.step(job.snapshot, .cancel, now: now, using: &rng)
        }
        let skipped = try await submit(
            h,
            .init(rawValue: "php.restart")!,
            ["environment_id": "env-4"],
            after: [held.id]
        )
        #expect(skipped.state == .skipped)
    }

    /// Refused at submit: a job that does not exist, an output its kind does not declare, a secret from outputs.
    @Test func referencesThatCannotHoldAreRefusedAtSubmit() async throws {
        let h = try harness()
        let backup = try await h.submit(.init(rawValue: "backup.create")!, ["env_id": "env-1"])
        await #expect(throws: StoreError.self) {
            _ = try await self.submit(h, .init(rawValue: "cache.clear")!, ["environment_id": "env-1"], after: [999])
        }
        do {
            _ = try await submit(h, .init(rawValue: "cache.clear")!, ["environment_id": Self.from(backup.id, "env_id")])
            Issue.record("an output backup.create does not have was taken")
        } catch let error as StoreError {
            #expect(error.code == .unknownDependency)
            #expect(error.field == "environment_id")
            #expect(error.message.contains("has no output env_id; it has backup_id"), "\(error.message)")
        }
        #expect(throws: ValidationError.self) {
            _ = try ValidatedParams(
                kind: .siteCreate,
                raw: [
                    "display_name": "W", "region": "us", "admin_email": "a@b.co", "admin_user": "u", "site_title": "t",
                    "admin_password": Self.from(backup.id, "backup_id"),
                ],
                defaults: ParamDefaults(company: "c"),
                allowingReferences: true
            )
        }
        // Nothing of the refused ones was stored
        #expect(try await h.database.jobs(states: nil, kind: nil, before: nil, limit: 10).map(\.id) == [backup.id])
    }
}

/// Priorities (`JobPriority`): the order of admission and of claims, and the aging that keeps the low ones from starving.
extension JobEngineTests {
    func submit(_ h: Harness, _ environment: String, priority: Int) async throws -> StoredJob {
        let params = try ValidatedParams(
            kind: .init(rawValue: "cache.clear")!,
            raw: ["environment_id": .string(environment)],
            defaultCompany: "company-1"
        )
        guard
            case .created(let job) = try await h.database.insert(
                NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil, priority: priority),
                now: h.clock.now()
            )
        else { throw EngineTestError("not created") }
        return job
    }

    @Test func theHighestPriorityStartsFirstAndALowOneAgesUpwards() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { call in .accepted(operationID: "op:\(call.body?["environment_id"]?.stringValue ?? "")") }
        script.poll = { _, index in index < 2 ? .inProgress : .finished(data: nil) }
        let h = try harness(script, maxInFlight: 1)
        let low = try await submit(h, "env-low", priority: -10)
        let normal = try await submit(h, "env-normal", priority: 0)
        let urgent = try await submit(h, "env-urgent", priority: 10)
        // One slot: the urgent one first, then the normal one, the low one last
        let order = try await h.database.admissionView(limit: 10, now: h.clock.now()).queued.map(\.id)
        #expect(order == [urgent.id, normal.id, low.id])
        // And the engine starts them in that order, one at a time
        try await h.engine.run(until: h.clock.now().addingTimeInterval(600), on: h.clock)
        let started = h.api.submits.compactMap { $0.body?["environment_id"]?.stringValue }
        #expect(started == ["env-urgent", "env-normal", "env-low"])
        // A low one queued for 100 minutes (-10 + 20 steps, at most 10) is ahead of a fresh job of priority 10
        let stuck = try await submit(h, "env-stuck", priority: -10)
        h.clock.advance(by: 100 * 60)
        let fresh = try await submit(h, "env-fresh", priority: 10)
        let aged = try await h.database.admissionView(limit: 10, now: h.clock.now()).queued.map(\.id)
        #expect(aged == [stuck.id, fresh.id])
        // 5 minutes short of that, the fresh one goes first
        let sooner = try await h.database.admissionView(limit: 10, now: h.clock.now().addingTimeInterval(-5 * 60))
        #expect(sooner.queued.map(\.id) == [fresh.id, stuck.id])
    }

    /// An urgent job (priority 5 or more) does not wait for a slot of a batch: two slots above max_in_flight are its.
    @Test func urgentJobsStartInTheHeadroomAboveTheInFlightLimit() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.submit = { call in .accepted(operationID: "op:\(call.body?["environment_id"]?.stringValue ?? "")") }
        script.poll = { _, _ in .inProgress }
        let h = try harness(script, maxInFlight: 1)
        let batch = try await submit(h, "env-batch", priority: -5)
        try await h.engine.run(until: h.clock.now().addingTimeInterval(5), on: h.clock)
        #expect(try await h.job(batch.id).state.isInFlight)
        let second = try await submit(h, "env-batch-2", priority: 4)
        let urgent = try await submit(h, "env-urgent-1", priority: 10)
        let urgent2 = try await submit(h, "env-urgent-2", priority: 5)
        let urgent3 = try await submit(h, "env-urgent-3", priority: 10)
        try await h.engine.run(until: h.clock.now().addingTimeInterval(5), on: h.clock)
        // The two of priority 10 take the headroom (the highest first); the priority-5 one waits for it, and the
        // priority-4 one for a slot
        #expect(try await h.job(urgent.id).state.isInFlight)
        #expect(try await h.job(urgent3.id).state.isInFlight)
        #expect(try await h.job(urgent2.id).state == .queued)
        #expect(try await h.job(second.id).state == .queued)
    }

    @Test func aClaimRanksByUrgencyThenPriorityAndAWaitLiftsTheLowOnes() {
        // A submit (urgency 2) of priority 10 before one of 0; -10 after every poll (urgency at most 1)
        #expect(JobPriority.claimRank(urgency: 2, priority: 10, overdue: 0) == 4)
        #expect(JobPriority.claimRank(urgency: 2, priority: -10, overdue: 0) == 0)
        #expect(
            JobPriority.claimRank(urgency: 2, priority: -10, overdue: 0)
                < JobPriority.claimRank(urgency: 0.5, priority: 0, overdue: 0)
        )
        // One step per 5 minutes past due beyond the first 30: after 80 minutes a -10 submit ranks as a fresh one
        // of priority 0, after 130 minutes as one of priority 10; in the first 30 minutes nothing changes
        #expect(
            JobPriority.claimRank(urgency: 2, priority: -10, overdue: 80 * 60)
                == JobPriority.claimRank(urgency: 2, priority: 0, overdue: 0)
        )
        #expect(
            JobPriority.claimRank(urgency: 2, priority: -10, overdue: 130 * 60)
                == JobPriority.claimRank(urgency: 2, priority: 10, overdue: 0)
        )
        #expect(JobPriority.claimRank(urgency: 0.5, priority: 0, overdue: 29 * 60) == 0.5)
        #expect(JobPriority.effective(3, waited: 299) == 3)
        #expect(JobPriority.effective(3, waited: 300) == 4)
        #expect(JobPriority.effective(9, waited: 3600) == 10)
    }
}
