import OpsCore

/// The job states as SQL lists, built once from ``JobState`` so the queries cannot drift from
/// ``JobState/isInFlight`` and ``JobState/isTerminal``. (The migrations keep their own literal text: they are
/// append-only and must not change once run.)
enum StateSQL {
    /// `('submitting', 'accepted', 'running')`: the states that hold a slot of the in-flight limit and their target.
    static let inFlight = list(JobState.allCases.filter(\.isInFlight))
    /// `('succeeded', 'failed', 'timed_out', 'cancelled', 'needs_attention')`: the states that end an attempt.
    static let terminal = list(JobState.allCases.filter(\.isTerminal))

    /// `('a', 'b')`, in ``JobState/allCases`` order. Raw values are plain identifiers: nothing to escape.
    static func list(_ states: [JobState]) -> String {
        "(" + states.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
    }
}
