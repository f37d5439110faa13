public import Foundation
public import Logging
import OpsCore
public import OpsStore
public import OpsWebhooks
public import ServiceLifecycle
import Synchronization

/// The webhook endpoints in force, swapped on SIGHUP.
public final class WebhookRegistry: Sendable {
    private let state: Mutex<(version: Int, endpoints: [WebhookEndpoint])>

    public init(_ endpoints: [WebhookEndpoint]) {
        state = Mutex((0, endpoints))
    }

    public var endpoints: [WebhookEndpoint] { state.withLock { $0.endpoints } }
    var version: Int { state.withLock { $0.version } }

    /// Signalled when the endpoints change (a reload), and when an endpoint's loop ended: what the dispatcher's
    /// loop waits on to start the loops it lacks.
    let changed = ChangeFeed()

    public func replace(_ endpoints: [WebhookEndpoint]) {
        state.withLock { $0 = ($0.version + 1, endpoints) }
        changed.notify()
    }

    func endpoint(named name: String) -> WebhookEndpoint? { endpoints.first { $0.name == name } }

    /// What the store writes into the outbox with each event: one body per endpoint that wants the event.
    public func deliveryPlanner() -> DeliveryPlanner {
        DeliveryPlanner(
            wants: { [self] state in endpoints.contains { $0.wants(state) } },
            entries: { [self] event, job in
                let wanting = endpoints.filter { $0.wants(event.to, inPlan: job.planID != nil) }
                guard !wanting.isEmpty else { return [] }
                let summary = JobSummary(
                    id: job.id,
                    kind: job.kind.rawValue,
                    state: job.state.rawValue,
                    params: job.params.withoutSecrets,
                    operationID: job.snapshot.operationID,
                    attempt: job.snapshot.attempt,
                    createdAt: job.createdAt,
                    finishedAt: job.finishedAt,
                    lastError: job.snapshot.lastError,
                    result: job.result
                )
                let webhookEvent = WebhookEvent(
                    seq: event.seq,
                    at: event.at,
                    from: event.from?.rawValue,
                    to: event.to.rawValue,
                    attempt: event.attempt,
                    operationID: event.operationID,
                    message: event.message,
                    job: summary
                )
                return wanting.map {
                    OutboxEntry(endpoint: $0.name, body: WebhookDelivery.body(webhookEvent, format: $0.format))
                }
            },
            planEntries: { [self] event, plan in
                let wanting = endpoints.filter(\.plans)
                guard !wanting.isEmpty else { return [] }
                let finished = PlanFinishedEvent(
                    seq: event.seq,
                    at: event.at,
                    planID: plan.id,
                    name: plan.name,
                    outcome: plan.outcome?.rawValue ?? plan.state,
                    createdAt: plan.createdAt,
                    schedule: plan.schedule,
                    counts: Dictionary(uniqueKeysWithValues: plan.counts.map { ($0.key.rawValue, $0.value) }),
                    steps: plan.jobs.map {
                        PlanFinishedEvent.Step(
                            step: $0.step ?? "",
                            jobID: $0.id,
                            kind: $0.kind.rawValue,
                            state: $0.state.rawValue,
                            lastError: $0.state == .succeeded ? nil : $0.snapshot.lastError
                        )
                    },
                    message: event.message
                )
                return wanting.map {
                    OutboxEntry(endpoint: $0.name, body: WebhookDelivery.body(finished, format: $0.format))
                }
            },
            scheduleEntries: { [self] event, job in
                let wanting = endpoints.filter(\.schedules)
                guard !wanting.isEmpty, let schedule = event.schedule else { return [] }
                let skipped = ScheduleSkippedEvent(
                    seq: event.seq,
                    at: event.at,
                    schedule: schedule,
                    jobID: job.id,
                    kind: job.kind.rawValue,
                    state: job.state.rawValue,
                    message: event.message
                )
                return wanting.map {
                    OutboxEntry(endpoint: $0.name, body: WebhookDelivery.body(skipped, format: $0.format))
                }
            }
        )
    }
}

/// Sends the outbox: one loop per endpoint, oldest pending delivery first (so one endpoint's deliveries arrive in
/// `seq` order, and a slow or broken endpoint never holds back another). Every attempt's result is committed before
/// the next; nothing is held only in memory, so a restart resumes exactly where it stopped.
public final class WebhookDispatcher: Service, Sendable {
    let database: OpsDatabase
    let registry: WebhookRegistry
    let sender: any WebhookSender
    let schedule: DeliverySchedule
    let clock: any DaemonClock
    let logger: Logger
    let metrics: DaemonMetrics?
    private let random: Mutex<SplitMix64>

    public init(
        database: OpsDatabase,
        registry: WebhookRegistry,
        sender: any WebhookSender,
        schedule: DeliverySchedule = .standard,
        clock: any DaemonClock,
        logger: Logger,
        metrics: DaemonMetrics? = nil,
        seed: UInt64 = UInt64.random(in: .min ... .max)
    ) {
        self.database = database
        self.registry = registry
        self.sender = sender
        self.schedule = schedule
        self.clock = clock
        self.logger = logger
        self.metrics = metrics
        self.random = Mutex(SplitMix64(seed: seed))
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // Endpoints with a loop; a loop that ends (its endpoint left the configuration) leaves the set, so
                // an endpoint added back later gets a new one. This loop wakes when the endpoints change or a loop
                // ended, not on every commit (the endpoint loops do that).
                let running = RunningEndpoints()
                let changes = self.registry.changed.subscribe()
                repeat {
                    for endpoint in self.registry.endpoints {
                        guard running.start(endpoint.name) else { continue }
                        group.addTask {
                            await self.endpointLoop(endpoint.name)
                            running.end(endpoint.name)
                            // Added back while it was ending, the endpoint needs a loop again.
                            self.registry.changed.notify()
                        }
                    }
                } while await changes.next() && !Task.isCancelled
            }
        }
    }

    /// Delivers one endpoint's outbox until shutdown, or until the endpoint leaves the configuration.
    ///
    /// The delivery loop races the change feed against its retry timer; a wait the timer wins leaves the
    /// subscription working (see ``ChangeFeed``).
    func endpointLoop(_ name: String) async {
        let changes = database.changes.subscribe()
        defer { changes.close() }
        await deliver(name, changes: changes)
    }

    private func deliver(_ name: String, changes: ChangeFeed.Subscription) async {
        while !Task.isCancelled {
            let wait: Date?
            do {
                wait = try await step(name)
            } catch {
                // A storage fault (a full disk) starts the outage the engine backs off on, and this loop too.
                let fault = database.storage.recordFailure(error, now: clock.now())
                logger.error(
                    "webhook outbox read or write failed",
                    metadata: [
                        "webhook": "\(name)",
                        "error": "\(StorageHealth.storageFault(error) ?? String(describing: type(of: error)))",
                    ]
                )
                wait = clock.now().addingTimeInterval(fault ? StorageHealth.firstProbeDelay : 5)
            }
            guard registry.endpoint(named: name) != nil else { return }
            if let wait, wait <= clock.now() { continue }
            await waitForChange(until: wait, changes)
        }
    }

    /// One attempt if one is due. Returns when the endpoint needs attention again (`nil`: on the next change).
    @discardableResult
    public func step(_ name: String) async throws -> Date? {
        guard let endpoint = registry.endpoint(named: name) else { return nil }
        if try await database.disabledEndpoints().contains(where: { $0.name == name }) { return nil }
        guard let delivery = try await database.nextDelivery(endpoint: name) else { return nil }
        let now = clock.now()
        if let outage = database.storage.outage {
            // Commits fail: a delivery sent now could not be recorded, and would be sent again and again. Wait
            // until the engine's probe finds that writes go through.
            return max(outage.nextProbeAt, now.addingTimeInterval(StorageHealth.firstProbeDelay))
        }
        guard delivery.nextAttemptAt <= now else { return delivery.nextAttemptAt }
        let outcome = await sender.deliver(PreparedDelivery(id: delivery.messageID, body: delivery.body), to: endpoint)
        let after = clock.now()
        switch outcome {
        case .delivered(let status):
            try await database.recordAttempt(
                deliveryID: delivery.id,
                state: .delivered,
                status: status,
                error: nil,
                nextAttemptAt: nil,
                now: after
            )
            metrics?.webhookDelivery(result: "delivered")
            return after
        case .retry(let status, let reason, let retryAfter):
            let attempt = delivery.attempts + 1
            let delay = random.withLock {
                schedule.delay(afterFailedAttempt: attempt, retryAfter: retryAfter, using: &$0)
            }
            let metadata: Logger.Metadata = [
                "webhook": "\(name)", "delivery.id": "\(delivery.id)", "event.seq": "\(delivery.eventSeq)",
                "job.id": "\(delivery.jobID)", "attempt": "\(attempt)", "reason": "\(reason)",
            ]
            if let delay {
                logger.warning(
                    "webhook delivery failed; will retry",
                    metadata: metadata.merging(
                        ["retry_in_seconds": "\(Int(delay))"]) { $1 }
                )
                try await database.recordAttempt(
                    deliveryID: delivery.id,
                    state: .pending,
                    status: status,
                    error: reason,
                    nextAttemptAt: after.addingTimeInterval(delay),
                    now: after
                )
                metrics?.webhookDelivery(result: "retry")
                return after.addingTimeInterval(delay)
            }
            logger.error("webhook delivery failed for good", metadata: metadata)
            try await database.recordAttempt(
                deliveryID: delivery.id,
                state: .failed,
                status: status,
                error: reason,
                nextAttemptAt: nil,
                now: after
            )
            metrics?.webhookDelivery(result: "failed")
            return after
        case .disableEndpoint(let reason):
            logger.error(
                "webhook endpoint disabled by its receiver",
                metadata: [
                    "webhook": "\(name)", "delivery.id": "\(delivery.id)", "reason": "\(reason)",
                ]
            )
            try await database.recordAttempt(
                deliveryID: delivery.id,
                state: .pending,
                status: 410,
                error: reason,
                nextAttemptAt: nil,
                now: after
            )
            try await database.setEndpointDisabled(name, reason: reason, now: after)
            metrics?.webhookDelivery(result: "endpoint_disabled")
            return nil
        }
    }

    private func waitForChange(until deadline: Date?, _ changes: ChangeFeed.Subscription) async {
        guard let deadline else {
            _ = await changes.next()
            return
        }
        let clock = self.clock
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(until: deadline) }
            group.addTask { _ = await changes.next() }
            await group.next()
            group.cancelAll()
        }
    }
}

/// The endpoints whose delivery loop is running.
final class RunningEndpoints: Sendable {
    private let names = Mutex<Set<String>>([])

    /// Marks `name` running; `false` when it already was.
    func start(_ name: String) -> Bool { names.withLock { $0.insert(name).inserted } }

    func end(_ name: String) { _ = names.withLock { $0.remove(name) } }
}
