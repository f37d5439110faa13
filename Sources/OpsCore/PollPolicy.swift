#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// When to ask Kinsta again, and how long to keep asking. Pure: `now` and the random source come from the caller.
///
/// Schedule after acceptance, with the defaults (before ±20 % jitter):
///
/// | poll # | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9+ |
/// |---|---|---|---|---|---|---|---|---|---|
/// | delay before it (s) | 3 | 2 | 3 | 4.5 | 6.75 | 10.1 | 15.2 | 20 | 20 |
/// | time since acceptance (s) | 3 | 5 | 8 | 12.5 | 19.3 | 29.4 | 44.6 | 64.6 | +20 each |
///
/// - A 404 before `startupWindow` (60 s) has passed since acceptance means "not visible yet" and costs nothing.
/// - A 404 after it, or a 500, must be seen `confirmations` (3) times in a row, `errorBackoff` apart, and over at least
///   `confirmSpan` (60) seconds, before it counts: Kinsta has answered 500 for a while during jobs that then finished.
///   With the defaults that is six sightings, 2 + 4 + 8 + 16 + 32 s apart (a transient 500 rate of 10 % per poll gives
///   a false failure with odds of one in a million per streak, against one in a thousand for three in a row).
/// - Transient trouble (timeouts, resets, 502/503, bodies that are not Kinsta's JSON) and 429s without `Retry-After`
///   wait on `errorBackoff`: 2, 4, 8, 16, 32, 64, 128, 256, 300, 300 … s (±20 %).
/// - Nothing is scheduled past the job's deadline: the last poll happens at the deadline, and a non-final answer there
///   ends the job `timed_out`.
public struct PollPolicy: Sendable, Hashable {
    /// Seconds after acceptance during which 404 means "the operation is not visible yet". Kinsta documents such a
    /// window for site creation ("the first few seconds") without a number; 60 s covers every observed case.
    public var startupWindow: Double
    /// Seconds from acceptance to the first poll.
    public var firstPollDelay: Double
    /// Spacing of polls while the operation runs.
    public var pollBackoff: Backoff
    /// Spacing of retries after transient trouble, 429s without `Retry-After`, and confirmations.
    public var errorBackoff: Backoff
    /// How many times in a row a 500 or a late 404 must be seen before it is believed.
    public var confirmations: Int
    /// The least time, in seconds, over which those sightings must stretch before they are believed.
    public var confirmSpan: Double
    /// Seconds from the start of an attempt to `timed_out`, per kind.
    public var deadlines: [JobKind: Double]

    public init(
        startupWindow: Double = 60,
        firstPollDelay: Double = 3,
        pollBackoff: Backoff = Backoff(base: 2, multiplier: 1.5, cap: 20, jitter: 0.2),
        errorBackoff: Backoff = Backoff(base: 2, multiplier: 2, cap: 300, jitter: 0.2),
        confirmations: Int = 3,
        confirmSpan: Double = 60,
        deadlines: [JobKind: Double] = [:]
    ) {
        self.confirmSpan = max(0, confirmSpan)
        self.startupWindow = startupWindow
        self.firstPollDelay = firstPollDelay
        self.pollBackoff = pollBackoff
        self.errorBackoff = errorBackoff
        self.confirmations = max(1, confirmations)
        self.deadlines = deadlines
    }

    /// The deadline of an attempt of `kind` started at `start`.
    public func deadline(for kind: JobKind, startingAt start: Date) -> Date {
        start.addingTimeInterval(deadlines[kind] ?? Double(kind.spec.defaultDeadline))
    }

    /// Whether a 404 at `now` still falls in the start-up window of an operation accepted at `acceptedAt`.
    public func isInStartupWindow(acceptedAt: Date, now: Date) -> Bool {
        now.timeIntervalSince(acceptedAt) < startupWindow
    }

    /// Whether `sightings` bad answers in a row, each scheduled on `errorBackoff` after the one before, are enough to be
    /// believed: at least `confirmations` of them, stretching over at least `confirmSpan` seconds. The span is the
    /// least the backoff can have waited between them (every delay at its lowest jitter), so it holds without storing
    /// when the streak began; anything else that came between (a 429, a reset) only adds time.
    public func isConfirmed(sightings: Int) -> Bool {
        guard sightings >= confirmations else { return false }
        guard confirmSpan > 0 else { return true }
        var span = 0.0
        for gap in 0..<max(0, sightings - 1) {
            span += errorBackoff.nominalDelay(afterAttempt: gap) * (1 - errorBackoff.jitter)
            if span >= confirmSpan { return true }
        }
        return false
    }

    /// Delay before poll number `pollCount + 1`, given `pollCount` polls already made.
    public func pollDelay(afterPolls pollCount: Int, using rng: inout some RandomNumberGenerator) -> Double {
        pollCount == 0 ? firstPollDelay : pollBackoff.delay(afterAttempt: pollCount - 1, using: &rng)
    }
}
