public import Foundation
import GRDB
import OpsCore

/// A schedule's stored state: its last run.
public struct ScheduleState: Sendable, Hashable {
    public var name: String
    /// The schedule as configured when this state began (``OpsDatabase/registerSchedule(name:definition:now:)``).
    public var definition: String
    /// When the schedule began to count: runs before it are not caught up.
    public var since: Date
    /// The time of the last run it handled (fired or skipped), as the cron line names it (without jitter).
    public var lastRunAt: Date?
    /// When that run actually fired (with its jitter, or late after downtime).
    public var lastFiredAt: Date?
    /// `fired` or `skipped`.
    public var lastResult: String?
    public var lastPlanID: Int64?
    public var lastJobID: Int64?
    /// What the last run did, in words.
    public var lastMessage: String?
}

/// What a schedule's run starts.
public enum ScheduleRun: Sendable {
    case plan(NewPlan)
    case job(NewJob)
}

extension OpsDatabase {
    /// What ``fireSchedule(name:runAt:runLabel:run:message:now:)`` did.
    public enum ScheduleFireResult: Sendable, Hashable {
        /// The run's plan or job is stored.
        case fired(planID: Int64?, jobID: Int64?)
        /// The previous run was still going: nothing was started, and the skip is recorded (an event on `jobID`, the
        /// previous run's job still going).
        case skipped(jobID: Int64, message: String)
        /// This run (or a later one) was handled already.
        case handledAlready
    }

    /// Every schedule's stored state, by name.
    public func scheduleStates() async throws -> [String: ScheduleState] {
        try await writer.read { db in
            var states: [String: ScheduleState] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM schedule_state") {
                let state = Self.scheduleState(row)
                states[state.name] = state
            }
            return states
        }
    }

    /// Makes sure the schedule `name` has a state for `definition`: a new schedule, or one whose definition changed,
    /// starts counting at `now` (nothing before it is caught up); an unchanged one keeps its last run.
    @discardableResult
    public func registerSchedule(name: String, definition: String, now: Date) async throws -> ScheduleState {
        try await writer.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM schedule_state WHERE name = ?", arguments: [name]) {
                let state = Self.scheduleState(row)
                if state.definition == definition { return state }
                try db.execute(
                    sql: "UPDATE schedule_state SET definition = ?, since = ? WHERE name = ?",
                    arguments: [definition, now.milliseconds, name]
                )
            } else {
                try db.execute(
                    sql: "INSERT INTO schedule_state (name, definition, since) VALUES (?, ?, ?)",
                    arguments: [name, definition, now.milliseconds]
                )
            }
            let row = try Row.fetchOne(db, sql: "SELECT * FROM schedule_state WHERE name = ?", arguments: [name])
            return Self.scheduleState(row!)
        }
    }

    /// Handles the run of schedule `name` at `runAt`, in one transaction with its state: when the previous run's plan
    /// or job is still going, the run is skipped and the skip recorded as an event on the job still going; otherwise
    /// `run` is stored, its jobs' first events opening with `message`. Either way the state records `runAt`, so a
    /// restart never handles it again. `runLabel` names the run in the skip's message (`2026-12-02 03:00 UTC`).
    public func fireSchedule(
        name: String,
        runAt: Date,
        runLabel: String,
        run: ScheduleRun,
        message: String,
        now: Date
    ) async throws -> ScheduleFireResult {
        defer { changes.notify() }
        let planner = outbox.get()
        let defaults = paramDefaults.get()
        return try await writer.write { db in
            guard
                let row = try Row.fetchOne(db, sql: "SELECT * FROM schedule_state WHERE name = ?", arguments: [name])
            else {
                throw StoreError(code: .conflict, message: "schedule \(name) is not registered", jobID: nil)
            }
            let state = Self.scheduleState(row)
            if let last = state.lastRunAt, last >= runAt { return .handledAlready }
            let context = WriteContext(planner: planner, defaults: defaults)
            if let going = try Self.goingJob(db, state) {
                let text =
                    "schedule \(name): its run of \(runLabel) was skipped: the previous run ("
                    + (state.lastPlanID.map { "plan \($0)" } ?? "job \(going.id)") + ") is still going"
                try Self.appendEvent(
                    db,
                    StoredEvent(
                        seq: 0,
                        at: now,
                        jobID: going.id,
                        kind: going.kind,
                        from: going.state,
                        to: going.state,
                        attempt: going.snapshot.attempt,
                        operationID: nil,
                        message: text,
                        schedule: name
                    ),
                    context
                )
                try db.execute(
                    sql: """
                        UPDATE schedule_state SET last_run_at = ?, last_result = 'skipped', last_message = ?
                        WHERE name = ?
                        """,
                    arguments: [runAt.milliseconds, text, name]
                )
                return .skipped(jobID: going.id, message: text)
            }
            var planID: Int64?
            var jobID: Int64?
            switch run {
            case .plan(var new):
                new.origin = message
                new.schedule = name
                switch try Self.insertPlan(db, new, now: now, context) {
                case .created(let plan), .existing(let plan): planID = plan.id
                }
            case .job(var new):
                new.origin = message
                switch try Self.insert(db, new, now: now, context) {
                case .created(let job), .existing(let job): jobID = job.id
                }
            }
            try db.execute(
                sql: """
                    UPDATE schedule_state SET last_run_at = ?, last_fired_at = ?, last_result = 'fired',
                        last_plan_id = ?, last_job_id = ?, last_message = ?
                    WHERE name = ?
                    """,
                arguments: [runAt.milliseconds, now.milliseconds, planID, jobID, message, name]
            )
            return .fired(planID: planID, jobID: jobID)
        }
    }

    /// The previous run's job still going: its plan's first job not ended, or its job if not ended; `nil` when the
    /// previous run has ended (or there was none, or it was pruned).
    static func goingJob(_ db: Database, _ state: ScheduleState) throws -> StoredJob? {
        if let planID = state.lastPlanID {
            guard let plan = try fetchPlan(db, id: planID), plan.finishedAt == nil else { return nil }
            return plan.jobs.first { !$0.state.isTerminal }
        }
        if let jobID = state.lastJobID, let job = try fetchJob(db, id: jobID), !job.state.isTerminal {
            return job
        }
        return nil
    }

    static func scheduleState(_ row: Row) -> ScheduleState {
        ScheduleState(
            name: row["name"],
            definition: row["definition"],
            since: Date(milliseconds: row["since"]),
            lastRunAt: (row["last_run_at"] as Int64?).map(Date.init(milliseconds:)),
            lastFiredAt: (row["last_fired_at"] as Int64?).map(Date.init(milliseconds:)),
            lastResult: row["last_result"],
            lastPlanID: row["last_plan_id"],
            lastJobID: row["last_job_id"],
            lastMessage: row["last_message"]
        )
    }
}
