public import Foundation
public import Logging
public import OpsCore
public import OpsProtocol
public import OpsStore
public import ServiceLifecycle
import Synchronization

/// One `[[schedules]]` entry, checked: when it fires and what it starts.
public struct ScheduleDefinition: Sendable, Hashable {
    /// What a run starts.
    public enum Target: Sendable, Hashable {
        /// The plan of a plan file, as read when the configuration was loaded.
        case plan(file: String, ValidatedPlan)
        /// One job.
        case job(ValidatedParams, note: String?, priority: Int, hold: Bool)
    }

    public var name: String
    public var cron: CronSchedule
    public var timeZone: TimeZone
    /// The zone as configured (Foundation names UTC `GMT`).
    public var timeZoneName: String
    public var target: Target
    /// Up to this many seconds after each run's time, the same offset every time (``CronSchedule/jitterOffset``).
    public var jitterSeconds: Int

    public init(
        name: String,
        cron: CronSchedule,
        timeZone: TimeZone,
        timeZoneName: String? = nil,
        target: Target,
        jitterSeconds: Int
    ) {
        self.name = name
        self.cron = cron
        self.timeZone = timeZone
        self.timeZoneName = timeZoneName ?? (timeZone.identifier == "GMT" ? "UTC" : timeZone.identifier)
        self.target = target
        self.jitterSeconds = jitterSeconds
    }

    /// The offset of every run of this schedule.
    public var offset: TimeInterval { CronSchedule.jitterOffset(name: name, jitter: jitterSeconds) }

    /// The schedule as stored with its state: when it changes, the schedule starts afresh rather than catching up on
    /// runs of a schedule that no longer exists. Secret parameters are left out: this text stays in the database.
    public var definition: String {
        var object: [String: JSONValue] = [
            "cron": .string(cron.description), "timezone": .string(timeZoneName),
            "jitter_seconds": .integer(Int64(jitterSeconds)),
        ]
        switch target {
        case .plan(let file, let plan):
            object["plan_file"] = .string(file)
            object["plan_steps"] = .array(
                plan.steps.map {
                    .array([.string($0.id), .string($0.params.kind.rawValue), .object($0.params.withoutSecrets)])
                }
            )
        case .job(let params, let note, let priority, let hold):
            object["kind"] = .string(params.kind.rawValue)
            object["params"] = .object(params.withoutSecrets)
            object["note"] = note.map(JSONValue.string) ?? .null
            object["priority"] = .integer(Int64(priority))
            object["hold"] = .bool(hold)
        }
        return CanonicalJSON.text(.object(object))
    }

    /// `plan release.toml` or `backup.create`.
    public var targetText: String {
        switch target {
        case .plan(let file, let plan): "plan \(plan.name) (\(file))"
        case .job(let params, _, _, _): params.kind.rawValue
        }
    }
}

/// The schedules in force (swapped on SIGHUP) and the firing of their runs. ``tick()`` handles every run due now;
/// ``ScheduleService`` calls it when the next run falls due. Durable: each run is handled in one transaction with the
/// schedule's stored state (``OpsDatabase/fireSchedule(name:runAt:runLabel:run:message:now:)``), so after downtime the runs
/// missed fire once, and a restart repeats none.
public final class Scheduler: Sendable {
    let database: OpsDatabase
    let clock: any DaemonClock
    let logger: Logger
    private let definitions: Mutex<[ScheduleDefinition]>
    /// Notified when the definitions change, so the service recomputes its next wake.
    let changed = ChangeFeed()

    public init(database: OpsDatabase, clock: any DaemonClock, logger: Logger, schedules: [ScheduleDefinition]) {
        self.database = database
        self.clock = clock
        self.logger = logger
        self.definitions = Mutex(schedules)
    }

    public var schedules: [ScheduleDefinition] { definitions.withLock { $0 } }

    /// New definitions (SIGHUP): a changed schedule starts afresh, a removed one stops, an unchanged one goes on.
    public func replace(_ schedules: [ScheduleDefinition]) {
        definitions.withLock { $0 = schedules }
        changed.notify()
    }

    /// What one run did.
    public struct Outcome: Sendable, Hashable {
        public var schedule: String
        public var runAt: Date
        public var result: OpsDatabase.ScheduleFireResult
        /// Runs that fell due while the daemon was not running (or stopped) and fired as this one.
        public var missed: Int
    }

    /// Registers every schedule's state, then handles each run due by now: the latest run due of each schedule fires
    /// (once, however many were missed), unless its previous run is still going.
    @discardableResult
    public func tick() async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for schedule in schedules {
            let now = clock.now()
            let state = try await database.registerSchedule(
                name: schedule.name,
                definition: schedule.definition,
                now: now
            )
            guard
                let (runAt, count) = schedule.cron.due(
                    since: Self.baseline(schedule, state),
                    now: now,
                    in: schedule.timeZone,
                    offset: schedule.offset
                )
            else { continue }
            let missed = count - 1
            let label = Self.local(runAt, schedule.timeZone, schedule.timeZoneName)
            var message = "started by schedule \(schedule.name) for its run of \(label)"
            if missed > 0 {
                message +=
                    "; \(missed == 1 ? "1 earlier run" : "\(missed) earlier runs") missed while the daemon was "
                    + "down fired as this one"
            }
            let run: ScheduleRun
            switch schedule.target {
            case .plan(_, let plan):
                run = .plan(NewPlan(plan: plan, submitter: nil, idempotencyKey: nil, schedule: schedule.name))
            case .job(let params, let note, let priority, let hold):
                run = .job(
                    NewJob(
                        params: params,
                        note: note,
                        submitter: nil,
                        idempotencyKey: nil,
                        hold: hold,
                        priority: priority
                    )
                )
            }
            let result = try await database.fireSchedule(
                name: schedule.name,
                runAt: runAt,
                runLabel: label,
                run: run,
                message: message,
                now: now
            )
            log(schedule, runAt: runAt, result, missed: missed)
            outcomes.append(Outcome(schedule: schedule.name, runAt: runAt, result: result, missed: missed))
        }
        return outcomes
    }

    /// When the next run of any schedule falls due (with its jitter); `nil` with no schedule.
    public func nextWake() async throws -> Date? {
        let states = try await database.scheduleStates()
        let now = clock.now()
        return schedules.compactMap { schedule in nextRun(of: schedule, state: states[schedule.name], now: now) }.min()
    }

    /// When `schedule` fires next (its jitter included).
    func nextRun(of schedule: ScheduleDefinition, state: ScheduleState?, now: Date) -> Date? {
        let since =
            state.flatMap { $0.definition == schedule.definition ? Self.baseline(schedule, $0) : nil }
            ?? now.addingTimeInterval(-schedule.offset)
        return schedule.cron.next(after: since, in: schedule.timeZone).map { $0.addingTimeInterval(schedule.offset) }
    }

    /// The run time after which runs count: the last run handled, else the cron time whose run (with its jitter)
    /// fires when the schedule began, so a run that fires after the schedule began counts.
    static func baseline(_ schedule: ScheduleDefinition, _ state: ScheduleState) -> Date {
        let began = state.since.addingTimeInterval(-schedule.offset)
        return max(state.lastRunAt ?? began, began)
    }

    /// Every schedule with its state and next run, for `GET /v1/schedules`.
    public func overview() async throws -> [(definition: ScheduleDefinition, state: ScheduleState?, next: Date?)] {
        let states = try await database.scheduleStates()
        let now = clock.now()
        return schedules.map { schedule in
            let state = states[schedule.name].flatMap { $0.definition == schedule.definition ? $0 : nil }
            return (schedule, state, nextRun(of: schedule, state: states[schedule.name], now: now))
        }
    }

    /// Every schedule as `GET /v1/schedules` shows it.
    public func views() async throws -> [ScheduleView] {
        try await overview().map { schedule, state, next in
            ScheduleView(
                name: schedule.name,
                cron: schedule.cron.description,
                timezone: schedule.timeZoneName,
                jitterSeconds: schedule.jitterSeconds,
                target: schedule.targetText,
                lastRunAt: state?.lastRunAt,
                lastFiredAt: state?.lastFiredAt,
                lastResult: state?.lastResult,
                lastPlanID: state?.lastPlanID,
                lastJobID: state?.lastJobID,
                lastMessage: state?.lastMessage,
                nextRunAt: next
            )
        }
    }

    /// `2026-12-02 03:00 Europe/Berlin`.
    static func local(_ date: Date, _ zone: TimeZone, _ name: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ value: Int?) -> String { (value ?? 0) < 10 ? "0\(value ?? 0)" : "\(value ?? 0)" }
        return "\(parts.year ?? 0)-\(two(parts.month))-\(two(parts.day)) \(two(parts.hour)):\(two(parts.minute)) "
            + name
    }

    private func log(_ schedule: ScheduleDefinition, runAt: Date, _ result: OpsDatabase.ScheduleFireResult, missed: Int)
    {
        var metadata: Logger.Metadata = [
            "schedule": "\(schedule.name)", "run_at": "\(CanonicalJSON.formatDate(runAt))",
        ]
        switch result {
        case .fired(let planID, let jobID):
            if let planID { metadata["plan.id"] = "\(planID)" }
            if let jobID { metadata["job.id"] = "\(jobID)" }
            if missed > 0 { metadata["missed"] = "\(missed)" }
            logger.info("schedule fired", metadata: metadata)
        case .skipped(let jobID, let message):
            metadata["job.id"] = "\(jobID)"
            metadata["message"] = "\(message)"
            logger.warning("schedule run skipped: the previous run is still going", metadata: metadata)
        case .handledAlready:
            break
        }
    }
}

/// The scheduler's loop as a `Service`: handle what is due, sleep until the next run or a reload, repeat. A run that
/// cannot be stored (a full disk) is tried again a minute later; it is not lost, since its time is not recorded.
public struct ScheduleService: Service {
    let scheduler: Scheduler

    public init(scheduler: Scheduler) {
        self.scheduler = scheduler
    }

    public func run() async throws {
        let clock = scheduler.clock
        let subscription = scheduler.changed.subscribe()
        defer { subscription.close() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var wake: Date
                do {
                    try await scheduler.tick()
                    wake = try await scheduler.nextWake() ?? clock.now().addingTimeInterval(3600)
                } catch is CancellationError {
                    return
                } catch {
                    scheduler.logger.error(
                        "could not handle the schedules; trying again in a minute",
                        metadata: ["error": "\(StorageHealth.storageFault(error) ?? String(describing: error))"]
                    )
                    wake = clock.now().addingTimeInterval(60)
                }
                // At most an hour at a time: a clock set forward is noticed within the hour.
                let until = min(wake, clock.now().addingTimeInterval(3600))
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await clock.sleep(until: until) }
                    group.addTask { _ = await subscription.next() }
                    await group.next()
                    group.cancelAll()
                }
            }
        }
    }
}
