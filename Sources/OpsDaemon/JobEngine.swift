package import Foundation
public import KinstaClient
public import Logging
public import OpsCore
public import OpsStore
import Synchronization

/// Carries jobs to their end: admits queued jobs, executes each in-flight job's pending action (submit, poll,
/// reconcile) when it falls due, feeds the answer to the pure ``JobMachine`` and commits the transition.
///
/// The engine holds no job state of its own beyond which calls are under way: everything else is in the database,
/// so a restart resumes where the last commit left off.
public final class JobEngine: Sendable {
    public let database: OpsDatabase
    /// Kinsta as it is: submits go here, after the engine took their budget token and committed the sending mark.
    let api: any KinstaAPI
    /// Kinsta through the request budget: polls and reconciliation reads (each waits for its token).
    let budgeted: any KinstaAPI
    let machine: JobMachine
    let clock: any DaemonClock
    let logger: Logger
    let maxInFlight: Int
    let maxConcurrentRequests: Int
    private let random: Mutex<SplitMix64>
    /// Jobs with a call to Kinsta under way.
    private let busy = Mutex<Set<Int64>>([])
    /// Counters and histograms; `nil` in tests that do not look at them.
    let metrics: DaemonMetrics?
    /// The shared request budget, when the engine's calls draw from one: claims never exceed what it can serve now.
    let budget: RequestBudget?
    /// What finished operations taught the poll schedule, per kind; refreshed from the store.
    private let durations = Mutex(Learned())
    /// ``currentPolicy`` as last built, and the version of the models it was built from: a claim and every action
    /// ask for it, and merging 37 models into the policy each time showed in P3's profile.
    private let builtPolicy = Mutex<(version: Int, policy: PollPolicy)?>(nil)

    /// What was learned, per kind, and a count of its changes.
    private struct Learned {
        var models: [JobKind: DurationModel] = [:]
        var version = 0
    }
    /// Kinsta's answers to submissions whose commit failed (storage unavailable), by job, with the row version they
    /// answer: committed as soon as storage takes writes again, instead of acting on the job a second time.
    private let unrecorded = Mutex<[Int64: (version: Int64, input: JobInput)]>([:])
    /// The secrets to mask out of Kinsta's answers: jobs' secret parameters are held here while a job is in flight.
    let secrets: SecretRegistry?
    /// The configured company: where a delete is confirmed (the sites list the key can read).
    let company: String?
    /// Which site each environment belongs to, so a site job and a job on one of its environments never run
    /// together.
    public let environments: EnvironmentDirectory

    public init(
        database: OpsDatabase,
        api: any KinstaAPI,
        policy: PollPolicy,
        clock: any DaemonClock,
        logger: Logger,
        maxInFlight: Int = 8,
        maxConcurrentRequests: Int = 8,
        seed: UInt64 = UInt64.random(in: .min ... .max),
        metrics: DaemonMetrics? = nil,
        budget: RequestBudget? = nil,
        secrets: SecretRegistry? = nil,
        company: String? = nil,
        environments: EnvironmentDirectory = EnvironmentDirectory()
    ) {
        self.environments = environments
        self.secrets = secrets
        self.company = company
        self.metrics = metrics
        self.budget = budget
        self.database = database
        self.api = api
        self.budgeted = budget.map { BudgetedKinstaAPI(wrapped: api, budget: $0) } ?? api
        self.machine = JobMachine(policy: policy)
        self.clock = clock
        self.logger = logger
        self.maxInFlight = maxInFlight
        self.maxConcurrentRequests = maxConcurrentRequests
        self.random = Mutex(SplitMix64(seed: seed))
        // Until the store is read (`recover`), each kind's model is the policy's own: built once here.
        durations.withLock { learned in
            for kind in JobKind.allCases { learned.models[kind] = policy.model(for: kind) }
        }
    }

    /// The poll policy in force, so a test can build a second engine like this one.
    package var policyForTesting: PollPolicy { machine.policy }

    /// The policy with what has been learned so far.
    public var currentPolicy: PollPolicy {
        let learned = durations.withLock { $0 }
        if let built = builtPolicy.withLock({ $0 }), built.version == learned.version { return built.policy }
        var policy = machine.policy
        policy.durations.merge(learned.models) { _, new in new }
        builtPolicy.withLock { $0 = (learned.version, policy) }
        return policy
    }

    /// How long the kind's operations usually take, from acceptance to their end, as learned so far (the prior's
    /// alone before anything was seen): the 10th and 90th percentiles, and how many operations the model has seen.
    public func usualDuration(of kind: JobKind) -> UsualDuration {
        let model = durations.withLock { $0.models[kind] } ?? machine.policy.model(for: kind)
        return UsualDuration(low: model.quantile(0.1), high: model.quantile(0.9), observations: model.observations)
    }

    /// Rebuilds the duration models from what the store holds of operations' durations (all kinds, or one).
    public func refreshDurations(_ only: JobKind? = nil) async throws {
        let base = machine.policy
        let observed: [JobKind: [DurationObservation]]
        if let only {
            observed = [only: try await database.operationDurations(of: only)]
        } else {
            observed = try await database.operationDurations()
        }
        // Every kind gets its model here, the prior alone when nothing was observed yet: a model is tabulated once
        // when built, and the claim ranking asks one for each due job.
        // Kinds with nothing observed share one model per prior (37 kinds, a handful of priors; each model holds two
        // tables of 3,687 numbers).
        var models: [JobKind: DurationModel] = [:]
        var priors: [ClosedRange<Double>: DurationModel] = [:]
        for kind in JobKind.allCases where only == nil || kind == only {
            let seen = observed[kind] ?? []
            guard seen.isEmpty else {
                models[kind] = base.model(for: kind, observations: seen)
                continue
            }
            let prior = kind.spec.typicalDuration
            let model = priors[prior] ?? base.model(for: kind, observations: [])
            priors[prior] = model
            models[kind] = model
        }
        durations.withLock { learned in
            learned.models.merge(models) { _, new in new }
            learned.version += 1
        }
    }

    // MARK: - Steps

    /// At start: every job found in flight is resumed. Polling jobs keep their stored schedule; a `submitting` job
    /// whose POST was on its way is settled by reading Kinsta, never by posting again blindly; one whose POST had not
    /// left is sent.
    @discardableResult
    public func recover() async throws -> Int {
        try await refreshDurations()
        // Only a submission cut short changes (it is settled by reading Kinsta); a polling job keeps its row as it
        // is, so a restart with thousands in flight reads only the few submitting rows, writes nothing for the
        // rest, and resumes at once.
        let recovered = try await database.inFlightCount()
        for job in try await database.jobs(in: .submitting) {
            try await commit(.recovered, to: job)
        }
        if recovered > 0 { logger.info("resuming jobs in flight", metadata: ["jobs": "\(recovered)"]) }
        return recovered
    }

    /// Moves queued jobs to `submitting`, in ``JobPriority`` order (priority with its aging, then the oldest), while
    /// the in-flight limit allows (an urgent job's with its headroom) and their target is free.
    @discardableResult
    public func admit() async throws -> Int {
        // One read: at the ceiling nothing can start, and the queue is not read (every commit wakes the loop, and a
        // full queue would otherwise be read and decoded each time); within the urgent headroom only urgent jobs
        // start, and only they are read (a partial index of their own).
        let view = try await database.admissionView(
            limit: 256,
            now: clock.now(),
            maxInFlight: maxInFlight,
            ceiling: JobPriority.inFlightLimit(maxInFlight, priority: JobPriority.range.upperBound)
        )
        let urgentOnly = view.urgentOnly
        var occupancy = Occupancy(busy: view.busyTargets, siteOf: environments.siteOf)
        var inFlight = view.inFlight
        var admitted = 0
        for job in view.queued
        where inFlight < JobPriority.inFlightLimit(maxInFlight, priority: job.priority)
            && (!urgentOnly || job.priority >= JobPriority.urgent)
        {
            let keys = Occupancy.keys(of: job.target)
            environments.learn(from: job.params)
            if occupancy.needsUnknownEnvironment(keys) { environments.requestRefresh() }
            guard !occupancy.conflicts(keys) else { continue }
            guard try await commit(.begin, to: job) != nil else { continue }
            occupancy.insert(keys)
            inFlight += 1
            admitted += 1
        }
        return admitted
    }

    /// Admits what it can, then executes every action due now (concurrently, bounded) and waits for them all.
    /// Tests and benchmarks drive time with this (OpsTestSupport's `run(until:on:)`); the service loop uses the same
    /// pieces without waiting.
    @discardableResult
    public func runDue() async throws -> Int {
        try await admit()
        let due = try await claimDue(limit: maxConcurrentRequests)
        await withDiscardingTaskGroup { group in
            for job in due { group.addTask { await self.perform(job) } }
        }
        return due.count
    }

    /// Due jobs not already being worked on, marked busy: the most urgent first (``PollPolicy/claimPriority``),
    /// and no more than the request budget can serve now, so the rest wait in the database (and grow more urgent)
    /// rather than race for tokens.
    func claimDue(limit: Int) async throws -> [StoredJob] {
        let under = busy.withLock { $0.count }
        var free = max(0, limit - under)
        if let budget { free = min(free, budget.available()) }
        guard free > 0 else { return [] }
        let now = clock.now()
        let candidates = try await database.dueCandidates(now: now, limit: max(free + under, Self.claimWindow))
        let policy = currentPolicy
        let ranked = candidates.enumerated().map { index, job in
            (
                job.id, index,
                JobPriority.claimRank(
                    urgency: policy.claimPriority(for: job.snapshot, lastAskedAt: job.updatedAt, now: now),
                    priority: job.priority,
                    overdue: now.timeIntervalSince(job.nextActionAt)
                )
            )
        }.sorted { $0.2 != $1.2 ? $0.2 > $1.2 : $0.1 < $1.1 }
        let chosen = busy.withLock { busy in
            var claimed: [Int64] = []
            for (id, _, _) in ranked where claimed.count < free && !busy.contains(id) {
                busy.insert(id)
                claimed.append(id)
            }
            return claimed
        }
        var claimed: [StoredJob] = []
        for id in chosen {
            if let job = try? await database.job(id: id) {
                claimed.append(job)
            } else {
                _ = busy.withLock { $0.remove(id) }
            }
        }
        return claimed
    }

    /// How many due jobs (earliest first) are ranked at each claim: enough to find the urgent ones among a backlog.
    static let claimWindow = 512

    /// The earliest time something is due that is not already under way, or, when something is due but the
    /// budget has no token, when the next token comes.
    package func nextWake() async throws -> Date? {
        let under = busy.withLock { $0 }
        let next: Date?
        if under.isEmpty {
            next = try await database.nextActionTime()
        } else {
            let upcoming = try await database.dueJobs(now: .distantFuture, limit: under.count + 1)
            next = upcoming.first { !under.contains($0.id) }?.snapshot.nextActionAt
        }
        guard let next else { return nil }
        let now = clock.now()
        guard next <= now else { return next }
        // Something is due but cannot be claimed: when every request slot is taken, the next wake is a call
        // ending (it signals the loop); when the budget is empty, it is the next token. Returning `next` here
        // would have the loop spin until then.
        if under.count >= maxConcurrentRequests { return nil }
        if let budget, budget.available() == 0 { return max(next, budget.nextTokenAt()) }
        return next
    }

    /// Executes one job's pending action and commits what came of it.
    ///
    /// The job is read again first: a claim may rest on a row read just before an earlier call for the same job
    /// committed (the busy mark is lifted only after that commit), and acting on such a stale row would send its
    /// submission a second time. Only the row as it is now is acted on.
    func perform(_ claimed: StoredJob) async {
        defer { _ = busy.withLock { $0.remove(claimed.id) } }
        guard var job = try? await database.job(id: claimed.id), job.version == claimed.version else {
            logger.debug("skipping a stale claim", metadata: ["job.id": "\(claimed.id)"])
            return
        }
        if let pending = unrecorded.withLock({ $0[job.id] }), pending.version == job.version {
            // Kinsta answered this job's submission but the answer could not be committed: commit it now, and act
            // on nothing else (sending again could create a second site).
            await commitHeld(pending.input, to: job)
            return
        }
        if let due = job.snapshot.nextActionAt { metrics?.actionLag(clock.now().timeIntervalSince(due)) }
        let input: JobInput
        switch job.snapshot.pendingAction {
        case .submit? where job.snapshot.sending:
            // The "sending" mark is set, so a POST left, and its answer is not held any more (its commit failed
            // and the answer was lost with a restart of the engine): settled by reading Kinsta, as after a crash.
            do {
                try await commit(.recovered, to: job)
            } catch {
                logCommitFailure(error, job: job)
            }
            return
        case .submit?:
            secrets?.hold(job: job.id, job.params.secretValues)
            // The budget's token first (a 429 pause can be long, and waiting for it is not "on its way"), then the
            // "sending" mark, committed right before the POST: a restart that finds it cannot know whether the POST
            // left, and reconciles; one that does not, sends.
            if let budget {
                do { try await budget.acquire() } catch { return }  // the daemon is stopping: nothing was sent
            }
            let sent: StoredJob
            do {
                guard let stored = try await commit(.sending, to: job) else { return }  // the job changed meanwhile
                sent = stored
            } catch {
                logCommitFailure(error, job: job)
                return
            }
            job = sent
            Failpoint.hit("before-submit")
            let outcome = await api.submit(job.params.submitCall(job: job.id, attempt: job.snapshot.attempt))
            if case .rateLimited(let retryAfter) = outcome {
                budget?.rateLimited(retryAfter: retryAfter)
            } else {
                budget?.answered()
            }
            Failpoint.hit("after-submit")
            input = .submitted(outcome)
        case .poll?:
            guard let operationID = job.snapshot.operationID else { return }
            var outcome = await budgeted.operationStatus(operationID)
            if case .finished(let data) = outcome { outcome = .finished(data: await completeOutputs(job, data: data)) }
            input = .polled(outcome)
        case .reconcile?:
            input = .reconciled(await reconcile(job))
        case nil:
            return
        }
        do {
            try await commit(input, to: job)
        } catch {
            if case .submitted = input {
                // Kept in memory until storage takes writes again; a restart meanwhile finds the "sending" mark.
                unrecorded.withLock { $0[job.id] = (job.version, input) }
            }
            logCommitFailure(error, job: job)
        }
    }

    /// Commits the answers of submissions that storage could not take when they came (``perform(_:)`` does the
    /// same for a job it claims); the poller runs this first once storage may take writes again.
    func commitUnrecorded() async {
        for (id, pending) in unrecorded.withLock({ $0 }) {
            let stored: StoredJob?
            do { stored = try await database.job(id: id) } catch { continue }  // storage still failing: keep it
            guard let job = stored, job.version == pending.version else {
                // The job is gone or moved on (an admin, a restart's reconciliation): the answer no longer applies.
                _ = unrecorded.withLock { $0.removeValue(forKey: id) }
                continue
            }
            await commitHeld(pending.input, to: job)
        }
    }

    /// Commits a held answer to the job as read at the version it answers, and lets it go once committed.
    private func commitHeld(_ input: JobInput, to job: StoredJob) async {
        guard (try? await commit(input, to: job)) != nil else { return }
        _ = unrecorded.withLock { $0.removeValue(forKey: job.id) }
    }

    /// How many submission answers wait for storage.
    var unrecordedCount: Int { unrecorded.withLock { $0.count } }

    private func logCommitFailure(_ error: any Error, job: StoredJob) {
        logger.error(
            "could not commit a job transition",
            metadata: [
                "job.id": "\(job.id)",
                "error": "\(StorageHealth.storageFault(error) ?? String(describing: type(of: error)))",
            ]
        )
    }

    /// Applies `input` to the job as read and commits it with its event. Returns `nil` if the job changed meanwhile.
    @discardableResult
    func commit(_ input: JobInput, to job: StoredJob) async throws -> StoredJob? {
        let now = clock.now()
        let transition: Transition
        do {
            let machine = JobMachine(policy: currentPolicy)
            transition = try random.withLock { rng in try machine.step(job.snapshot, input, now: now, using: &rng) }
        } catch {
            logger.debug("input refused", metadata: ["job.id": "\(job.id)", "reason": "\(error)"])
            return nil
        }
        let applied: OpsDatabase.Applied?
        do {
            applied = try await database.apply(transition, to: job, now: now)
            database.storage.recordSuccess()
        } catch {
            database.storage.recordFailure(error, now: now)
            throw error
        }
        guard let applied else { return nil }
        let stored = applied.job
        if stored.state.isTerminal { secrets?.release(job: stored.id) }
        if stored.state == .succeeded { environments.learn(from: stored.params, outputs: stored.outputs) }
        log(transition, job: stored)
        for event in applied.followers { log(follower: event) }
        if applied.recordedObservation != nil {
            // The store kept what the poll showed of the duration: learn from it before the next schedule is made.
            do {
                try await refreshDurations(job.kind)
            } catch {
                logger.warning(
                    "could not reload operation durations; polling keeps the previous model",
                    metadata: [
                        "job.kind": "\(job.kind.rawValue)", "error": "\(String(describing: type(of: error)))",
                    ]
                )
            }
        }
        return stored
    }

    // MARK: - Observability

    /// One line per state change: static message, data in metadata.
    private func log(_ transition: Transition, job: StoredJob) {
        guard transition.changesState else { return }
        metrics?.transition(from: transition.before.state, to: transition.after.state)
        let to = transition.after.state
        let level: Logger.Level =
            switch to {
            case .failed, .needsAttention: .error
            case .timedOut: .warning
            default: .info
            }
        var metadata: Logger.Metadata = [
            "job.id": "\(job.id)", "job.kind": "\(job.kind.rawValue)", "from": "\(transition.before.state.rawValue)",
            "to": "\(to.rawValue)", "attempt": "\(transition.after.attempt)",
        ]
        if let operationID = transition.after.operationID { metadata["operation.id"] = "\(operationID)" }
        if let message = transition.message { metadata["message"] = "\(message)" }
        logger.log(level: level, "job state changed", metadata: metadata)
    }

    /// One line for a change that followed in the same transaction: a job that waited on this one, or a plan's end.
    func log(follower event: StoredEvent) {
        if event.planID == nil, event.schedule == nil {
            metrics?.transition(from: event.from ?? .waiting, to: event.to)
        }
        let metadata = event.journalFields.mapValues { Logger.MetadataValue.string($0) }
        logger.log(level: event.to == .skipped ? .warning : .info, "\(event.journalMessage)", metadata: metadata)
    }
}
