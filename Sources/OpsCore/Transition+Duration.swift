#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

extension Transition {
    /// What this transition showed of the operation's duration, for the adaptive poll schedule to learn from
    /// (``DurationModel``), in seconds since acceptance:
    ///
    /// - the poll that saw it finished: the end lies after the previous look (`lastAskedAt`, when it was still not
    ///   finished; acceptance when this is the first poll) and by this poll. The interval is kept as it is: taking
    ///   this poll's time would add the detection lag to every observation (a schedule learning from its own lag
    ///   drifts later and later), and taking the middle would teach, after a first poll that waited, ends that never
    ///   happen;
    /// - a poll at the deadline that still had no final answer: the operation ran longer than the previous look
    ///   (right-censored). Leaving it out would teach that operations end sooner than they do.
    ///
    /// Successes settled by reading resources (after a late 404 or a restart) are left out: when the daemon looked
    /// says nothing about when Kinsta finished. So are failures: they say nothing about how long a success takes.
    public func observation(at now: Date, lastAskedAt: Date) -> DurationObservation? {
        guard before.state == .accepted || before.state == .running, before.pendingAction == .poll,
            let acceptedAt = before.acceptedAt
        else { return nil }
        let seen = max(0, now.timeIntervalSince(acceptedAt))
        let stillRunning = min(seen, max(0, lastAskedAt.timeIntervalSince(acceptedAt)))
        switch after.state {
        case .succeeded:
            return DurationObservation(low: stillRunning, high: seen)
        case .timedOut where stillRunning > 0:
            return DurationObservation(low: stillRunning, high: nil)
        default:
            return nil
        }
    }
}
