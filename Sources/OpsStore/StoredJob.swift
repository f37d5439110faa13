public import Foundation
public import OpsCore

/// Who submitted or changed a job: the socket peer's credentials.
public struct Peer: Sendable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }
}

/// A job as stored: its identity, parameters and the machine's snapshot.
public struct StoredJob: Sendable, Hashable {
    public var id: Int64
    public var params: ValidatedParams
    public var note: String?
    public var target: String
    /// Bumped by every update; an update names the version it read, so a stale write changes nothing.
    public var version: Int64
    public var snapshot: JobSnapshot
    public var result: JSONValue?
    public var createdAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    /// -10 … 10: the order of claims under the shared budget (``JobPriority``).
    public var priority: Int
    /// The plan the job is a step of, and the step's id.
    public var planID: Int64?
    public var step: String?
    public var submitter: Peer?
    public var idempotencyKey: String?

    public var kind: JobKind { params.kind }
    public var state: JobState { snapshot.state }
}

/// One entry of the history.
public struct StoredEvent: Sendable, Hashable {
    public var seq: Int64
    public var at: Date
    public var jobID: Int64
    public var kind: JobKind
    public var from: JobState?
    public var to: JobState
    public var attempt: Int
    public var operationID: String?
    public var message: String?
    /// Set on the event that ends a plan (`plan.finished`): written with the job whose end ended it, in the same
    /// transaction, its `to` that job's state.
    public var planID: Int64? = nil
    /// Set on an event a schedule wrote (a run it skipped because the previous run, this event's job, was still
    /// going): the schedule's name. The job's state is unchanged (`from` is `to`).
    public var schedule: String? = nil

    /// What the journal's line for this event carries (`job.id`, `job.kind`, `from`, `to`, `message`, `plan.id`),
    /// for the event's writer to log: the engine for its own commits and what followed from them, the socket for an
    /// admin's.
    public var journalFields: [String: String] {
        var fields = ["job.id": "\(jobID)", "job.kind": kind.rawValue]
        if let message { fields["message"] = message }
        if let planID {
            fields["plan.id"] = "\(planID)"
        } else {
            fields["from"] = from?.rawValue ?? "-"
            fields["to"] = to.rawValue
        }
        if let schedule { fields["schedule"] = schedule }
        return fields
    }

    /// The journal's static message for this event.
    public var journalMessage: String {
        planID != nil ? "plan finished" : schedule != nil ? "schedule run skipped" : "job state changed"
    }

    /// The webhook and history type: `job.<to>`, `plan.finished` or `schedule.skipped`.
    public var type: String {
        planID != nil ? "plan.finished" : schedule != nil ? "schedule.skipped" : "job.\(to.rawValue)"
    }
}

/// A job to store, as the socket received it.
public struct NewJob: Sendable {
    public var params: ValidatedParams
    public var note: String?
    public var submitter: Peer?
    /// The caller's `Idempotency-Key`: the same key with the same request returns the first job.
    public var idempotencyKey: String?
    /// The jobs this one comes after (`after`): it waits until each has succeeded. The jobs its parameters take
    /// outputs from are among them.
    public var after: [Int64]
    /// Stored `held`, for an admin's approve.
    public var hold: Bool
    /// -10 … 10 (clamped).
    public var priority: Int
    /// The plan and step it is a job of (set by ``OpsDatabase/insertPlan(_:now:)``).
    public var plan: (id: Int64, step: String)?
    /// Who started it when no peer did: `started by schedule nightly …` opens its first event instead of
    /// `submitted by uid …`.
    public var origin: String?

    public init(
        params: ValidatedParams,
        note: String?,
        submitter: Peer?,
        idempotencyKey: String?,
        after: [Int64] = [],
        hold: Bool = false,
        priority: Int = 0
    ) {
        self.priority = min(10, max(-10, priority))
        self.params = params
        self.note = note
        self.submitter = submitter
        self.idempotencyKey = idempotencyKey
        self.hold = hold
        self.after = Array(Set(after + params.references.values.map(\.job))).sorted()
    }

    /// What "the same request" means for an idempotency key: kind, parameters without secrets, and note.
    var fingerprint: String {
        var object = params.withoutSecrets
        object["$kind"] = .string(params.kind.rawValue)
        object["$note"] = note.map(JSONValue.string) ?? .null
        // Only a job with `after` has it in its fingerprint, so the fingerprints stored before it stay equal.
        if !after.isEmpty { object["$after"] = .array(after.map(JSONValue.integer)) }
        if hold { object["$hold"] = true }
        if priority != 0 { object["$priority"] = .integer(Int64(priority)) }
        return JSONText.encode(.object(object))
    }
}

/// Errors the store reports with meaning to callers; anything else is a `DatabaseError`.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        case idempotencyConflict
        case corruptRow
        /// `after` (or a parameter's `from`) names a job that does not exist, or an output its kind does not have.
        case unknownDependency
        /// The thing asked for cannot be done in its present state (a plan that has ended cannot be cancelled).
        case conflict
    }

    public var code: Code
    public var message: String
    /// The job the error is about, when there is one.
    public var jobID: Int64?
    /// The request's field at fault, when one is (a parameter whose `from` names an output that does not exist).
    public var field: String? = nil

    public var description: String { message }
}

/// JSON text in and out of the database, with sorted keys so equal values give equal text.
enum JSONText {
    static func encode(_ value: JSONValue) -> String { CanonicalJSON.text(value) }

    static func decode(_ text: String) -> JSONValue? {
        try? StrictJSON.parse(text.utf8)
    }
}

extension Date {
    /// Milliseconds since 1970, the store's time unit.
    var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    init(milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

extension StoredJob {
    /// What the job learned, under its kind's output names (``JobKindSpec/outputs``): empty until it succeeded.
    public var outputs: [String: JSONValue] {
        state == .succeeded ? kind.spec.outputs(from: result, params: params.values) : [:]
    }
}
