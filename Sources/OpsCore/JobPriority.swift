/// A job's priority, -10 … 10 (default 0), and the rule that keeps the low ones from starving.
///
/// - **Admission** (which queued job starts when a slot and its targets are free): the highest effective priority
///   first, then the oldest. A queued job's effective priority is its priority plus one for every 5 minutes it has
///   been queued, up to 10: a job of priority -10 is ahead of every fresh job after at most 100 minutes.
/// - **Claims under the shared request budget** (which due action gets the next token): the urgency of the action
///   (``PollPolicy/claimPriority(for:lastAskedAt:now:)``: 2 for a submit, the chance the operation ended for a poll)
///   plus 0.2 per step of effective priority, where an action gains a step for every 5 minutes it has waited past
///   its due time beyond the first 30, up to 10. Priority 10 puts a submit (2 + 2) ahead of any priority-0 action; a
///   -10 submit (2 − 2) after every other, until its wait has lifted it: at most 130 minutes past due under a
///   budget taken entirely by priority-10 work. The first 30 minutes leave alone the order a backlog of equal
///   priorities already has (the urgency grows with the wait by itself; docs/performance.md, P2).
/// - **Urgent headroom**: a job whose own priority is ``urgent`` or more may start while ``urgentHeadroom`` more jobs
///   than `max_in_flight` are in flight, so an urgent restore does not wait for a slot of a nightly batch to free.
public enum JobPriority {
    public static let range = -10...10
    /// The own priority (not the aged one) from which a job may use the ``urgentHeadroom``.
    public static let urgent = 5
    /// In-flight slots above `max_in_flight` that only urgent jobs take.
    public static let urgentHeadroom = 2

    /// How many jobs may be in flight when a job of `priority` starts, under `maxInFlight`.
    public static func inFlightLimit(_ maxInFlight: Int, priority: Int) -> Int {
        priority >= urgent ? maxInFlight + urgentHeadroom : maxInFlight
    }
    /// 5 minutes, in milliseconds: one step of effective priority per such wait.
    public static let agingStep: Int64 = 300_000
    /// What one step weighs against a claim's urgency.
    public static let claimWeight = 0.2
    /// How long past due an action waits before it starts to gain steps, in seconds.
    public static let claimAgingGrace = 1800.0

    /// The effective priority after `waited` seconds.
    public static func effective(_ priority: Int, waited seconds: Double) -> Double {
        let steps = Double(Int64(max(0, seconds) * 1000) / agingStep)
        return min(Double(range.upperBound), Double(priority) + steps)
    }

    /// The claim rank of a due action: its urgency plus the weighed effective priority.
    public static func claimRank(urgency: Double, priority: Int, overdue seconds: Double) -> Double {
        urgency + claimWeight * effective(priority, waited: seconds - claimAgingGrace)
    }
}
