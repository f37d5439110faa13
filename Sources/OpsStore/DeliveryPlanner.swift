public import OpsCore

/// Decides, inside the event's transaction, which deliveries an event makes (the configured endpoints that want it).
public struct DeliveryPlanner: Sendable {
    /// Whether any endpoint could want an event that moves a job to this state: when none does, the event costs no
    /// read of the job.
    public var wants: @Sendable (JobState) -> Bool
    /// The deliveries of the event, given the job as the event's transaction left it.
    public var entries: @Sendable (StoredEvent, StoredJob) -> [OutboxEntry]

    public init(
        wants: @escaping @Sendable (JobState) -> Bool,
        entries: @escaping @Sendable (StoredEvent, StoredJob) -> [OutboxEntry]
    ) {
        self.wants = wants
        self.entries = entries
    }
}
