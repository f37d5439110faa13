#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

extension Transition {
    /// How long the operation took, when this transition is the poll that saw it finished: what the adaptive poll
    /// schedule learns from. Successes settled by reading resources (after a late 404 or a restart) are left out:
    /// their timing says when the daemon looked, not when Kinsta finished.
    ///
    /// The end lies between the previous look (`lastAskedAt`, when the operation was still not finished) and this
    /// poll; the estimate is the middle of that span, in seconds since acceptance. Taking this poll's time instead
    /// would add the detection lag to every observation, and a schedule learning from its own lag drifts later and
    /// later (each late first poll teaches that operations take longer).
    public func observedDuration(at now: Date, lastAskedAt: Date) -> Double? {
        guard after.state == .succeeded, before.state == .accepted || before.state == .running,
            before.pendingAction == .poll, let acceptedAt = before.acceptedAt
        else { return nil }
        let seen = max(0, now.timeIntervalSince(acceptedAt))
        let stillRunning = min(seen, max(0, lastAskedAt.timeIntervalSince(acceptedAt)))
        return (stillRunning + seen) / 2
    }
}
