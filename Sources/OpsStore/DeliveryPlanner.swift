public import OpsCore

/// Decides, inside the event's transaction, which deliveries an event makes (the configured endpoints that want it).
public struct DeliveryPlanner: Sendable {
    /// Whether any endpoint could want an event that moves a job to this state: when none does, the event costs no
    /// read of the job.
    public var wants: @Sendable (JobState) -> Bool
    /// The deliveries of the event, given the job as the event's transaction left it.
    public var entries: @Sendable (StoredEvent, StoredJob) -> [OutboxEntry]
    /// The deliveries of a plan's end (`plan.finished`), given the plan as its transaction left it.
    public var planEntries: @Sendable (StoredEvent, StoredPlan) -> [OutboxEntry]
    /// The deliveries of a schedule's skipped run (`schedule.skipped`), given the job still going.
    public var scheduleEntries: @Sendable (StoredEvent, StoredJob) -> [OutboxEntry]

    public init(
        wants: @escaping @Sendable (JobState) -> Bool,
        entries: @escaping @Sendable (StoredEvent, StoredJob) -> [OutboxEntry],
        planEntries: @escaping @Sendable (StoredEvent, StoredPlan) -> [OutboxEntry] = { _, _ in [] },
        scheduleEntries: @escaping @Sendable (StoredEvent, StoredJob) -> [OutboxEntry] = { _, _ in [] }
    ) {
        self.wants = wants
        self.entries = entries
        self.planEntries = planEntries
        self.scheduleEntries = scheduleEntries
    }
}
