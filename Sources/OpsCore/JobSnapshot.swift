#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The part of a job the state machine reads and writes. The store maps it to and from its row.
public struct JobSnapshot: Sendable, Hashable {
    public var kind: JobKind
    public var state: JobState
    /// 1 for the first attempt; an admin's retry adds one.
    public var attempt: Int
    public var operationID: String?
    /// When Kinsta returned the operation ID: the start of the start-up window.
    public var acceptedAt: Date?
    /// When this attempt times out. Set when the attempt starts (queued → submitting).
    public var deadline: Date?
    /// Polls made in this attempt.
    public var pollCount: Int
    /// Transient troubles in a row: drives the error backoff.
    public var errorStreak: Int
    /// Bad answers (500, late 404) seen in a row: they must reach the policy's count before they are believed.
    public var confirmations: Int
    /// What to do when `nextActionAt` comes, while in flight.
    public var pendingAction: PendingAction?
    public var nextActionAt: Date?
    /// The latest trouble, shown by `show` even when it did not change the state.
    public var lastError: String?
    /// A submission of this attempt may have reached Kinsta without its answer being committed (a timeout, a reset,
    /// a restart while submitting). A later refusal of a resent request is then read against Kinsta, not believed.
    public var submissionUnclear: Bool
    /// The submission is on its way: committed just before the POST and cleared by its answer. A restart that finds
    /// it set cannot know whether Kinsta got the request; one that finds it clear knows nothing left since the last
    /// answer, so the request is sent (again) without reading Kinsta first.
    public var sending: Bool

    public init(
        kind: JobKind,
        state: JobState = .queued,
        attempt: Int = 1,
        operationID: String? = nil,
        acceptedAt: Date? = nil,
        deadline: Date? = nil,
        pollCount: Int = 0,
        errorStreak: Int = 0,
        confirmations: Int = 0,
        pendingAction: PendingAction? = nil,
        nextActionAt: Date? = nil,
        lastError: String? = nil,
        submissionUnclear: Bool = false,
        sending: Bool = false
    ) {
        self.submissionUnclear = submissionUnclear
        self.sending = sending
        self.kind = kind
        self.state = state
        self.attempt = attempt
        self.operationID = operationID
        self.acceptedAt = acceptedAt
        self.deadline = deadline
        self.pollCount = pollCount
        self.errorStreak = errorStreak
        self.confirmations = confirmations
        self.pendingAction = pendingAction
        self.nextActionAt = nextActionAt
        self.lastError = lastError
    }
}

/// What to do to an input: the job after it, and what happened, for the event log.
public struct Transition: Sendable, Hashable {
    /// The job as it was.
    public var before: JobSnapshot
    /// The job as it is now.
    public var after: JobSnapshot
    /// A sentence for the event (when the state changed) or the log.
    public var message: String?
    /// Kinsta's result data to keep (e.g. `{"idSite": …}`), when this transition learned it.
    public var result: JSONValue?
    /// Secret parameters can now be erased (Kinsta accepted the job, or it ended before that).
    public var eraseSecrets: Bool

    /// Whether the state changed, so an event is written.
    public var changesState: Bool { before.state != after.state }
}

/// An input the machine refuses in the job's current state (the socket API answers 409 with the message).
public struct TransitionRefused: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
