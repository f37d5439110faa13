public import Foundation
import GRDB
public import OpsCore

/// What one write transaction carries besides its rows: where the deliveries of its events go, what the configuration
/// fills into parameters, and the events that followed from the change it was asked for (``OpsDatabase/Applied``).
final class WriteContext {
    let planner: DeliveryPlanner?
    let defaults: ParamDefaults
    var followers: [StoredEvent] = []

    init(planner: DeliveryPlanner?, defaults: ParamDefaults) {
        self.planner = planner
        self.defaults = defaults
    }
}

/// A plan to store, as the socket received it.
public struct NewPlan: Sendable {
    public var plan: ValidatedPlan
    public var submitter: Peer?
    /// The caller's `Idempotency-Key`: the same key with the same plan returns the first plan.
    public var idempotencyKey: String?
    /// The schedule that started it, if one did.
    public var schedule: String?
    /// What its jobs' first events say started them, when no peer did (``NewJob/origin``).
    public var origin: String?

    public init(
        plan: ValidatedPlan,
        submitter: Peer?,
        idempotencyKey: String?,
        schedule: String? = nil,
        origin: String? = nil
    ) {
        self.plan = plan
        self.submitter = submitter
        self.idempotencyKey = idempotencyKey
        self.schedule = schedule
        self.origin = origin
    }

    /// What "the same plan" means for an idempotency key: its name and its steps without secrets.
    var fingerprint: String {
        let steps: [JSONValue] = plan.steps.map { step in
            .object([
                "id": .string(step.id), "kind": .string(step.params.kind.rawValue),
                "params": .object(step.params.withoutSecrets), "after": .array(step.after.map { .integer(Int64($0)) }),
                "note": step.note.map(JSONValue.string) ?? .null, "hold": .bool(step.hold),
                "priority": .integer(Int64(step.priority)),
            ])
        }
        return JSONText.encode(.object(["name": .string(plan.name), "steps": .array(steps)]))
    }
}

/// A plan as stored, with its jobs (in step order) and where they stand.
public struct StoredPlan: Sendable, Hashable {
    /// How a plan ended.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// Every job succeeded.
        case succeeded
        /// A job ended some other way (and those after it were skipped).
        case failed
        /// An admin cancelled it: what had not been submitted was cancelled.
        case cancelled
    }

    public var id: Int64
    public var name: String
    public var createdAt: Date
    public var finishedAt: Date?
    public var cancelledAt: Date?
    public var outcome: Outcome?
    public var schedule: String?
    public var submitter: Peer?
    /// Its jobs, in the order they were inserted (each after those it waits on).
    public var jobs: [StoredJob]
    /// For each job, the jobs it comes after.
    public var dependencies: [Int64: [Int64]]

    /// `running`, `cancelling` (cancelled, with jobs still in flight), or the outcome.
    public var state: String { outcome?.rawValue ?? (cancelledAt == nil ? "running" : "cancelling") }

    /// How many of its jobs are in each state.
    public var counts: [JobState: Int] {
        var counts: [JobState: Int] = [:]
        for job in jobs { counts[job.state, default: 0] += 1 }
        return counts
    }

    /// "2 succeeded, 1 failed, 3 skipped", and any other state that has jobs.
    public var countsText: String {
        let counts = counts
        var parts = ["\(counts[.succeeded] ?? 0) succeeded", "\(counts[.failed] ?? 0) failed"]
        parts.append("\(counts[.skipped] ?? 0) skipped")
        for state in JobState.allCases where ![.succeeded, .failed, .skipped].contains(state) {
            if let count = counts[state], count > 0 {
                parts.append("\(count) \(state.rawValue.replacing("_", with: " "))")
            }
        }
        return parts.joined(separator: ", ")
    }
}

extension OpsDatabase {
    /// What ``insertPlan(_:now:)`` did.
    public enum PlanInsertResult: Sendable {
        case created(StoredPlan)
        /// The idempotency key was seen with the same plan: the original plan.
        case existing(StoredPlan)
    }

    /// Stores a plan and every step's job, in one transaction: each step's job `waiting` on the jobs of the steps it
    /// comes after (its references to their outputs numbered with their job IDs), `held` when it is held, `queued`
    /// when it waits on nothing.
    ///
    /// - Throws: ``StoreError`` `.idempotencyConflict` when the key was used for a different plan; anything thrown
    ///   stores nothing.
    public func insertPlan(_ new: NewPlan, now: Date) async throws -> PlanInsertResult {
        defer { changes.notify() }
        let planner = outbox.get()
        let defaults = paramDefaults.get()
        return try await writer.write { db in
            try Self.insertPlan(db, new, now: now, WriteContext(planner: planner, defaults: defaults))
        }
    }

    /// ``insertPlan(_:now:)`` inside a write transaction.
    static func insertPlan(
        _ db: Database,
        _ new: NewPlan,
        now: Date,
        _ context: WriteContext
    ) throws
        -> PlanInsertResult
    {
        let fingerprint = new.idempotencyKey == nil ? nil : new.fingerprint
        if let key = new.idempotencyKey,
            let row = try Row.fetchOne(
                db,
                sql: "SELECT id, request_fingerprint FROM plan WHERE idempotency_key = ?",
                arguments: [key]
            )
        {
            let id: Int64 = row["id"]
            guard row["request_fingerprint"] == fingerprint else {
                throw StoreError(
                    code: .idempotencyConflict,
                    message: "Idempotency-Key was already used for plan \(id) with a different plan",
                    jobID: nil
                )
            }
            guard let plan = try Self.fetchPlan(db, id: id) else { throw StoreError.corruptPlan(id) }
            return .existing(plan)
        }
        try db.execute(
            sql: """
                INSERT INTO plan (name, created_at, schedule, submitter_uid, submitter_gid, submitter_pid,
                    idempotency_key, request_fingerprint)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                new.plan.name, now.milliseconds, new.schedule, new.submitter.map { Int64($0.uid) },
                new.submitter.map { Int64($0.gid) }, new.submitter.map { Int64($0.pid) }, new.idempotencyKey,
                fingerprint,
            ]
        )
        let planID = db.lastInsertedRowID
        var ids: [Int64] = []
        for step in new.plan.steps {
            var job = NewJob(
                params: step.params.renumberingReferences { ids[Int($0) - 1] },
                note: step.note,
                submitter: new.submitter,
                idempotencyKey: nil,
                after: step.after.map { ids[$0] },
                hold: step.hold,
                priority: step.priority
            )
            job.plan = (planID, step.id)
            job.origin = new.origin
            switch try Self.insert(db, job, now: now, context) {
            case .created(let stored), .existing(let stored): ids.append(stored.id)
            }
        }
        guard let plan = try Self.fetchPlan(db, id: planID) else { throw StoreError.corruptPlan(planID) }
        return .created(plan)
    }

    /// Ends the plan of the job `event` just ended, when that was its last job still going: the plan's outcome, and
    /// its `plan.finished` event (with the same job, after its event). In the transaction of the change.
    static func finishPlanIfDone(_ db: Database, after event: StoredEvent, now: Date, _ context: WriteContext) throws {
        guard
            let planID = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT plan_id FROM job WHERE id = ?"),
                arguments: [event.jobID]
            )
        else { return }
        let going = try Bool.fetchOne(
            db,
            sql: "SELECT EXISTS (SELECT 1 FROM job WHERE plan_id = ? AND state NOT IN \(StateSQL.terminal))",
            arguments: [planID]
        )
        guard going == false, var plan = try fetchPlan(db, id: planID), plan.finishedAt == nil else { return }
        let outcome: StoredPlan.Outcome =
            plan.cancelledAt != nil
            ? .cancelled : plan.jobs.allSatisfy { $0.state == .succeeded } ? .succeeded : .failed
        try db.execute(
            sql: "UPDATE plan SET finished_at = ?, outcome = ? WHERE id = ? AND finished_at IS NULL",
            arguments: [now.milliseconds, outcome.rawValue, planID]
        )
        guard db.changesCount == 1 else { return }
        plan.finishedAt = Date(milliseconds: now.milliseconds)
        plan.outcome = outcome
        try appendEvent(
            db,
            StoredEvent(
                seq: 0,
                at: event.at,
                jobID: event.jobID,
                kind: event.kind,
                from: nil,
                to: event.to,
                attempt: event.attempt,
                operationID: nil,
                message: "plan \(planID) (\(plan.name)) \(outcome.rawValue): \(plan.countsText)",
                planID: planID
            ),
            context,
            follower: true
        )
    }

    /// Cancels a plan: it is marked cancelled, and each of its jobs not yet submitted (held, waiting or queued) is
    /// cancelled, the last step first, so those waiting on one are cancelled themselves rather than skipped. Jobs
    /// already at Kinsta go on; the plan ends with them. One transaction.
    ///
    /// - Parameter cancel: the transition that cancels a job (the machine's); a job it refuses is left as it is.
    /// - Returns: the plan as it is now and the jobs cancelled; `nil` when there is no such plan.
    /// - Throws: ``StoreError`` `.conflict` when the plan has ended already.
    public func cancelPlan(
        id: Int64,
        now: Date,
        cancel: @escaping @Sendable (StoredJob) throws -> Transition
    ) async throws -> (plan: StoredPlan, cancelled: [Int64], followers: [StoredEvent])? {
        defer { changes.notify() }
        let planner = outbox.get()
        let defaults = paramDefaults.get()
        let history = durationHistory
        return try await writer.write { db in
            guard let plan = try Self.fetchPlan(db, id: id) else { return nil }
            guard plan.finishedAt == nil else {
                throw StoreError(code: .conflict, message: "plan \(id) has ended already (\(plan.state))", jobID: nil)
            }
            try db.execute(
                sql: "UPDATE plan SET cancelled_at = coalesce(cancelled_at, ?) WHERE id = ?",
                arguments: [now.milliseconds, id]
            )
            let context = WriteContext(planner: planner, defaults: defaults)
            var cancelled: [Int64] = []
            for job in plan.jobs.reversed() where [.held, .waiting, .queued].contains(job.state) {
                // Read again: cancelling a later step may have moved this one.
                guard let current = try Self.fetchJob(db, id: job.id),
                    [.held, .waiting, .queued].contains(current.state),
                    let transition = try? cancel(current)
                else { continue }
                if try Self.apply(db, transition, to: current, now: now, context, durationHistory: history) != nil {
                    cancelled.append(job.id)
                }
            }
            // With nothing in flight the plan ended in this transaction; otherwise it ends with its last job.
            guard let now = try Self.fetchPlan(db, id: id) else { return nil }
            return (now, cancelled.reversed(), context.followers)
        }
    }

    /// One plan with its jobs; `nil` when there is none.
    public func plan(id: Int64) async throws -> StoredPlan? {
        try await writer.read { db in try Self.fetchPlan(db, id: id) }
    }

    /// The newest plans first (below `before`, when given), each with its jobs.
    public func plans(before: Int64? = nil, limit: Int) async throws -> [StoredPlan] {
        try await writer.read { db in
            let ids = try Int64.fetchAll(
                db,
                sql: "SELECT id FROM plan WHERE id < ? ORDER BY id DESC LIMIT ?",
                arguments: [before ?? Int64.max, limit]
            )
            return try ids.compactMap { try Self.fetchPlan(db, id: $0) }
        }
    }

    /// The job of `jobID`'s plan, with its plan's ID and step id: `nil` for a job outside plans.
    static func fetchPlan(_ db: Database, id: Int64) throws -> StoredPlan? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM plan WHERE id = ?", arguments: [id]) else {
            return nil
        }
        let jobs = try JobRecord.fetchAll(
            db,
            sql: "SELECT * FROM job WHERE plan_id = ? ORDER BY id",
            arguments: [id]
        ).map(StoredJob.init(record:))
        var dependencies: [Int64: [Int64]] = [:]
        let pairs = try Row.fetchAll(
            db,
            sql: """
                SELECT job_id, after_id FROM job_dependency
                WHERE job_id IN (SELECT id FROM job WHERE plan_id = ?) ORDER BY job_id, after_id
                """,
            arguments: [id]
        )
        for pair in pairs { dependencies[pair["job_id"], default: []].append(pair["after_id"]) }
        let outcomeText: String? = row["outcome"]
        let uid: Int64? = row["submitter_uid"]
        return StoredPlan(
            id: id,
            name: row["name"],
            createdAt: Date(milliseconds: row["created_at"]),
            finishedAt: (row["finished_at"] as Int64?).map(Date.init(milliseconds:)),
            cancelledAt: (row["cancelled_at"] as Int64?).map(Date.init(milliseconds:)),
            outcome: outcomeText.flatMap(StoredPlan.Outcome.init(rawValue:)),
            schedule: row["schedule"],
            submitter: uid.map {
                Peer(
                    uid: UInt32($0),
                    gid: UInt32((row["submitter_gid"] as Int64?) ?? 0),
                    pid: Int32((row["submitter_pid"] as Int64?) ?? 0)
                )
            },
            jobs: jobs,
            dependencies: dependencies
        )
    }
}

extension StoreError {
    static func corruptPlan(_ id: Int64) -> StoreError {
        StoreError(code: .corruptRow, message: "plan \(id) could not be read back", jobID: nil)
    }
}
