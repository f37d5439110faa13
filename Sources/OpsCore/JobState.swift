/// Where a job stands. The diagram and one paragraph per state are in `docs/architecture.md`.
public enum JobState: String, Sendable, Codable, CaseIterable, Hashable {
    /// Stored and held for an admin's `approve` (submitted with `hold`, or of a kind the configuration holds): it
    /// takes no slot and no request, and moves on (`waiting` or `queued`) only once approved.
    case held
    /// Stored, after jobs that have not all succeeded yet (`after`): it becomes `queued` once they have, its
    /// parameters taken from their outputs then, or `skipped` when one of them ends any other way.
    case waiting
    /// Stored and waiting for its turn (global in-flight limit, or another job on the same target).
    case queued
    /// Committed as "about to be sent to Kinsta", or being settled after an unclear send. Never re-posted blindly.
    case submitting
    /// Kinsta returned an operation ID, and `/operations/{id}` has not yet answered anything but 404.
    case accepted
    /// `/operations/{id}` answered 202 at least once: Kinsta is working on it.
    case running
    /// Kinsta finished the operation (200), or reconciliation showed its effect in place.
    case succeeded
    /// Kinsta refused the job, or reported (and confirmed) the operation failed.
    case failed
    /// No final answer came before the job's deadline. The operation may still finish at Kinsta.
    case timedOut = "timed_out"
    /// Withdrawn by an admin before it was sent.
    case cancelled
    /// The outcome could not be settled automatically; an admin decides (retry, or check MyKinsta).
    case needsAttention = "needs_attention"
    /// Never started: a job it came after did not succeed (or its parameters could not be taken from their outputs).
    case skipped

    /// Terminal states end a job attempt: nothing more happens unless an admin retries it.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .timedOut, .cancelled, .needsAttention, .skipped: true
        case .held, .waiting, .queued, .submitting, .accepted, .running: false
        }
    }

    /// States in which the job occupies a slot of the in-flight limit and holds its target.
    public var isInFlight: Bool {
        switch self {
        case .submitting, .accepted, .running: true
        default: false
        }
    }
}

/// What the engine must do next for a job that is in flight.
public enum PendingAction: String, Sendable, Codable, Hashable {
    /// Send the submit call (nothing has reached Kinsta for this attempt, as far as the daemon knows for sure).
    case submit
    /// Settle an unclear state by reading Kinsta's resources (sites list, site, environment) before acting.
    case reconcile
    /// Ask `/operations/{id}` how the operation is doing.
    case poll
}
