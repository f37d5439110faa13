import Foundation
import GRDB
import OpsCore

/// A `job` row as SQLite holds it: times in integer milliseconds since 1970, enums as their raw text, parameters and
/// result as JSON text. Its coding keys are the column names; ``StoredJob`` is what the rest of the daemon sees.
struct JobRecord: Codable, Hashable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "job"

    var id: Int64?
    var kind: String
    var params: String
    var note: String?
    var target: String
    var state: String
    var version: Int64
    var attempt: Int
    var operationID: String?
    var acceptedAt: Int64?
    var deadline: Int64?
    var pollCount: Int
    var errorStreak: Int
    var confirmations: Int
    var pendingAction: String?
    var nextActionAt: Int64?
    var lastError: String?
    var result: String?
    var createdAt: Int64
    var updatedAt: Int64
    var finishedAt: Int64?
    var submitterUID: Int64?
    var submitterGID: Int64?
    var submitterPID: Int64?
    var idempotencyKey: String?
    var requestFingerprint: String?
    var submissionUnclear: Bool
    var sending: Bool
    var priority: Int
    var planID: Int64?
    var step: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, params, note, target, state, version, attempt, priority, step
        case planID = "plan_id"
        case operationID = "operation_id"
        case acceptedAt = "accepted_at"
        case deadline
        case pollCount = "poll_count"
        case errorStreak = "error_streak"
        case confirmations
        case pendingAction = "pending_action"
        case nextActionAt = "next_action_at"
        case lastError = "last_error"
        case result
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case finishedAt = "finished_at"
        case submitterUID = "submitter_uid"
        case submitterGID = "submitter_gid"
        case submitterPID = "submitter_pid"
        case idempotencyKey = "idempotency_key"
        case requestFingerprint = "request_fingerprint"
        case submissionUnclear = "submission_unclear"
        case sending
    }

    /// The columns, for the query interface.
    enum Columns {
        static let id = Column(CodingKeys.id)
        static let params = Column(CodingKeys.params)
        static let state = Column(CodingKeys.state)
        static let version = Column(CodingKeys.version)
        static let attempt = Column(CodingKeys.attempt)
        static let operationID = Column(CodingKeys.operationID)
        static let acceptedAt = Column(CodingKeys.acceptedAt)
        static let deadline = Column(CodingKeys.deadline)
        static let pollCount = Column(CodingKeys.pollCount)
        static let errorStreak = Column(CodingKeys.errorStreak)
        static let confirmations = Column(CodingKeys.confirmations)
        static let pendingAction = Column(CodingKeys.pendingAction)
        static let nextActionAt = Column(CodingKeys.nextActionAt)
        static let lastError = Column(CodingKeys.lastError)
        static let result = Column(CodingKeys.result)
        static let updatedAt = Column(CodingKeys.updatedAt)
        static let finishedAt = Column(CodingKeys.finishedAt)
        static let idempotencyKey = Column(CodingKeys.idempotencyKey)
        static let submissionUnclear = Column(CodingKeys.submissionUnclear)
        static let sending = Column(CodingKeys.sending)
    }

    /// A new queued job as `insert` stores it: every other column at the value the schema's default gives it.
    init(new: NewJob, fingerprint: String?, at ms: Int64) {
        id = nil
        kind = new.params.kind.rawValue
        params = JSONText.encode(.object(new.params.values))
        note = new.note
        target = new.params.target
        state = JobState.queued.rawValue
        version = 0
        attempt = 1
        operationID = nil
        acceptedAt = nil
        deadline = nil
        pollCount = 0
        errorStreak = 0
        confirmations = 0
        pendingAction = nil
        nextActionAt = nil
        lastError = nil
        result = nil
        createdAt = ms
        updatedAt = ms
        finishedAt = nil
        submitterUID = new.submitter.map { Int64($0.uid) }
        submitterGID = new.submitter.map { Int64($0.gid) }
        submitterPID = new.submitter.map { Int64($0.pid) }
        idempotencyKey = new.idempotencyKey
        requestFingerprint = fingerprint
        submissionUnclear = false
        sending = false
        priority = new.priority
        planID = new.plan?.id
        step = new.plan?.step
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    private static let insertSQL = """
        INSERT INTO job (kind, params, note, target, state, version, attempt, operation_id, accepted_at, deadline,
            poll_count, error_streak, confirmations, pending_action, next_action_at, last_error, result, created_at,
            updated_at, finished_at, submitter_uid, submitter_gid, submitter_pid, idempotency_key,
            request_fingerprint, submission_unclear, sending, priority, plan_id, step)
        VALUES (\(Array(repeating: "?", count: 30).joined(separator: ", ")))
        """

    /// Inserts this new row through one cached statement and takes the id it was given. GRDB's record `insert`
    /// builds its statement and arguments through `Encodable` on every call, a fifth of the writer's CPU per
    /// submission (docs/performance.md, P3).
    mutating func insertCached(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL).execute(arguments: [
            kind, params, note, target, state, version, attempt, operationID, acceptedAt, deadline,
            pollCount, errorStreak, confirmations, pendingAction, nextActionAt, lastError, result, createdAt,
            updatedAt, finishedAt, submitterUID, submitterGID, submitterPID, idempotencyKey,
            requestFingerprint, submissionUnclear, sending, priority, planID, step,
        ])
        id = db.lastInsertedRowID
    }
}

/// An `event` row; ``StoredEvent`` is what the rest of the daemon sees.
struct EventRecord: Codable, Hashable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "event"

    var seq: Int64?
    var at: Int64
    var jobID: Int64
    var kind: String
    var fromState: String?
    var toState: String
    var attempt: Int
    var operationID: String?
    var message: String?
    var planID: Int64?
    var schedule: String?

    enum CodingKeys: String, CodingKey {
        case seq, at, schedule
        case planID = "plan_id"
        case jobID = "job_id"
        case kind
        case fromState = "from_state"
        case toState = "to_state"
        case attempt
        case operationID = "operation_id"
        case message
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }

    /// Inserts this new row through one cached statement (see ``JobRecord/insertCached(_:)``) and takes its seq.
    mutating func insertCached(_ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO event (at, job_id, kind, from_state, to_state, attempt, operation_id, message, plan_id,
                    schedule)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [at, jobID, kind, fromState, toState, attempt, operationID, message, planID, schedule])
        seq = db.lastInsertedRowID
    }
}

/// An `operation_duration` row: what one operation of a kind showed of its duration.
struct OperationDurationRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "operation_duration"

    var kind: String
    /// The look that saw the end (for a censored row, the last that saw it running).
    var seconds: Double
    /// The last look before that found it running; `nil` in rows written before intervals were kept.
    var lowSeconds: Double?
    var censored: Bool
    var jobID: Int64
    var at: Int64

    enum CodingKeys: String, CodingKey {
        case kind, seconds
        case lowSeconds = "low_seconds"
        case censored
        case jobID = "job_id"
        case at
    }

    init(kind: String, observation: DurationObservation, jobID: Int64, at: Int64) {
        self.kind = kind
        seconds = observation.high ?? observation.low
        lowSeconds = observation.low
        censored = observation.high == nil
        self.jobID = jobID
        self.at = at
    }

    var observation: DurationObservation {
        censored
            ? DurationObservation(low: lowSeconds ?? seconds, high: nil)
            : DurationObservation(low: lowSeconds ?? seconds, high: seconds)
    }
}

extension StoredJob {
    init(record: JobRecord) throws {
        guard case .object(let values)? = JSONText.decode(record.params) else {
            let id = record.id ?? 0
            throw StoreError(code: .corruptRow, message: "job \(id) has an unreadable kind, state or params", jobID: id)
        }
        try self.init(record: record, params: values)
    }

    /// The job of a row whose parameters are known already (`params`, as the row holds them): a job just inserted is
    /// returned without parsing back the JSON it was written from.
    init(record: JobRecord, params values: [String: JSONValue]) throws {
        let id = record.id ?? 0
        guard let kind = JobKind(rawValue: record.kind), let state = JobState(rawValue: record.state) else {
            throw StoreError(code: .corruptRow, message: "job \(id) has an unreadable kind, state or params", jobID: id)
        }
        self.init(
            id: id,
            params: ValidatedParams(trusted: values, kind: kind),
            note: record.note,
            target: record.target,
            version: record.version,
            snapshot: JobSnapshot(
                kind: kind,
                state: state,
                attempt: record.attempt,
                operationID: record.operationID,
                acceptedAt: record.acceptedAt.map(Date.init(milliseconds:)),
                deadline: record.deadline.map(Date.init(milliseconds:)),
                pollCount: record.pollCount,
                errorStreak: record.errorStreak,
                confirmations: record.confirmations,
                pendingAction: record.pendingAction.flatMap(PendingAction.init(rawValue:)),
                nextActionAt: record.nextActionAt.map(Date.init(milliseconds:)),
                lastError: record.lastError,
                submissionUnclear: record.submissionUnclear,
                sending: record.sending
            ),
            result: record.result.flatMap(JSONText.decode),
            createdAt: Date(milliseconds: record.createdAt),
            updatedAt: Date(milliseconds: record.updatedAt),
            finishedAt: record.finishedAt.map(Date.init(milliseconds:)),
            priority: record.priority,
            planID: record.planID,
            step: record.step,
            submitter: record.submitterUID.map {
                Peer(
                    uid: UInt32($0),
                    gid: UInt32(record.submitterGID ?? 0),
                    pid: Int32(record.submitterPID ?? 0)
                )
            },
            idempotencyKey: record.idempotencyKey
        )
    }
}

extension StoredEvent {
    init(record: EventRecord) throws {
        let seq = record.seq ?? 0
        guard let kind = JobKind(rawValue: record.kind), let to = JobState(rawValue: record.toState) else {
            throw StoreError(code: .corruptRow, message: "event \(seq) has an unreadable kind or state", jobID: nil)
        }
        self.init(
            seq: seq,
            at: Date(milliseconds: record.at),
            jobID: record.jobID,
            kind: kind,
            from: record.fromState.flatMap(JobState.init(rawValue:)),
            to: to,
            attempt: record.attempt,
            operationID: record.operationID,
            message: record.message,
            planID: record.planID,
            schedule: record.schedule
        )
    }

    /// The row that stores this event (a new one: its `seq` is given by the insert).
    var record: EventRecord {
        EventRecord(
            seq: nil,
            at: at.milliseconds,
            jobID: jobID,
            kind: kind.rawValue,
            fromState: from?.rawValue,
            toState: to.rawValue,
            attempt: attempt,
            operationID: operationID,
            message: message,
            planID: planID,
            schedule: schedule
        )
    }
}

/// A `delivery` row (the webhook outbox); ``StoredDelivery`` is what the rest of the daemon sees.
struct DeliveryRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "delivery"

    var id: Int64?
    var eventSeq: Int64
    var jobID: Int64
    var endpoint: String
    var body: Data
    var state: String
    var attempts: Int
    var nextAttemptAt: Int64
    var lastStatus: Int?
    var lastError: String?
    var createdAt: Int64
    var updatedAt: Int64
    var deliveredAt: Int64?

    enum CodingKeys: String, CodingKey {
        case id
        case eventSeq = "event_seq"
        case jobID = "job_id"
        case endpoint, body, state, attempts
        case nextAttemptAt = "next_attempt_at"
        case lastStatus = "last_status"
        case lastError = "last_error"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case deliveredAt = "delivered_at"
    }

    /// The pending delivery of `event` that `entry` plans, due at once: every other column at its schema default.
    init(pendingFor event: StoredEvent, _ entry: OutboxEntry) {
        let at = event.at.milliseconds
        id = nil
        eventSeq = event.seq
        jobID = event.jobID
        endpoint = entry.endpoint
        body = entry.body
        state = StoredDelivery.State.pending.rawValue
        attempts = 0
        nextAttemptAt = at
        lastStatus = nil
        lastError = nil
        createdAt = at
        updatedAt = at
        deliveredAt = nil
    }
}

extension StoredDelivery {
    init(record: DeliveryRecord) throws {
        let id = record.id ?? 0
        guard let state = State(rawValue: record.state) else {
            throw StoreError(code: .corruptRow, message: "delivery \(id) has an unreadable state", jobID: nil)
        }
        self.init(
            id: id,
            eventSeq: record.eventSeq,
            jobID: record.jobID,
            endpoint: record.endpoint,
            body: record.body,
            state: state,
            attempts: record.attempts,
            nextAttemptAt: Date(milliseconds: record.nextAttemptAt),
            lastStatus: record.lastStatus,
            lastError: record.lastError,
            createdAt: Date(milliseconds: record.createdAt),
            deliveredAt: record.deliveredAt.map(Date.init(milliseconds:))
        )
    }
}
