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
    ///
    /// One exception: when nothing was asked since acceptance (this is the first poll), the span starts at
    /// acceptance, and its middle would teach that the operation took half the time
    /// of a first poll that waits, by design, until only a small share of operations of the kind have ended. Such
    /// ends lie in the steep start of the distribution, just before that poll: its own time is the closer estimate.
    /// The middle taught the model ends that never happen, which pulled every later first poll earlier.
    public func observedDuration(at now: Date, lastAskedAt: Date) -> Double? {
        guard after.state == .succeeded, before.state == .accepted || before.state == .running,
            before.pendingAction == .poll, let acceptedAt = before.acceptedAt
        else { return nil }
        let seen = max(0, now.timeIntervalSince(acceptedAt))
        let stillRunning = min(seen, max(0, lastAskedAt.timeIntervalSince(acceptedAt)))
        guard stillRunning > 0 else { return seen }
        return (stillRunning + seen) / 2
    }
}
