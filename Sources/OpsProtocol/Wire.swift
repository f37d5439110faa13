public import Foundation
public import OpsCore

/// The socket API's version prefix: every route lives under it (`/v1/jobs`, …).
public let socketAPIVersion = "v1"

/// `POST /v1/jobs` body.
public struct SubmitJobRequest: Codable, Sendable, Hashable {
    public var kind: String
    /// A value may be `{"from": {"job": N, "output": "name"}}`: taken from job N's outputs once it succeeded.
    public var params: [String: JSONValue]
    public var note: String?
    /// The jobs this one comes after: it waits (`waiting`) until each has succeeded, and is `skipped` if one ends
    /// any other way. The jobs its parameters take outputs from count as named here.
    public var after: [Int64]?
    /// Stored `held` until an admin approves it (`POST /v1/jobs/{id}/approve`).
    public var hold: Bool?
    /// -10 … 10 (default 0): the order of claims under the shared budget; low ones age upwards, so none starves.
    public var priority: Int?

    public init(
        kind: String,
        params: [String: JSONValue],
        note: String? = nil,
        after: [Int64]? = nil,
        hold: Bool? = nil,
        priority: Int? = nil
    ) {
        self.kind = kind
        self.params = params
        self.note = note
        self.after = after
        self.hold = hold
        self.priority = priority
    }
}

/// Who asked, from the socket's peer credentials (`SO_PEERCRED`).
public struct PeerView: Codable, Sendable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }
}

/// One entry of the job history. `seq` is global, strictly increasing and never reused. Pruning deletes the events of
/// old jobs, so the retained seqs can have holes; a page read (`after=`) misses no event that is retained.
public struct EventView: Codable, Sendable, Hashable {
    public var seq: Int64
    public var at: Date
    public var jobID: Int64
    public var kind: String
    /// `nil` for the event that created the job.
    public var from: String?
    public var to: String
    public var attempt: Int
    public var operationID: String?
    public var message: String?
    /// Set on a plan's `plan.finished` event, whose job is the one whose end ended the plan.
    public var planID: Int64?
    /// Set on a schedule's note that it skipped a run (the event's job is the previous run's, still going).
    public var schedule: String?

    enum CodingKeys: String, CodingKey {
        case seq, at, kind, from, to, attempt, message, schedule
        case jobID = "job_id"
        case operationID = "operation_id"
        case planID = "plan_id"
    }

    public init(
        seq: Int64,
        at: Date,
        jobID: Int64,
        kind: String,
        from: String?,
        to: String,
        attempt: Int,
        operationID: String?,
        message: String?
    ) {
        self.seq = seq
        self.at = at
        self.jobID = jobID
        self.kind = kind
        self.from = from
        self.to = to
        self.attempt = attempt
        self.operationID = operationID
        self.message = message
    }
}

/// A job as the socket API shows it. Secret parameters read `"[redacted]"` (or are gone once Kinsta accepted).
public struct JobView: Codable, Sendable, Hashable {
    public var id: Int64
    public var kind: String
    public var state: String
    public var params: [String: JSONValue]
    public var note: String?
    public var target: String
    public var attempt: Int
    public var operationID: String?
    public var result: JSONValue?
    public var lastError: String?
    public var pollCount: Int
    public var pendingAction: String?
    public var nextActionAt: Date?
    public var acceptedAt: Date?
    public var deadline: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    public var submittedBy: PeerView?
    /// The job's history, on `GET /v1/jobs/{id}` only.
    public var events: [EventView]?
    /// What the job learned once it succeeded, under its kind's output names (`site_id`, `backup_id`, …).
    public var outputs: [String: JSONValue]?
    /// Everything the job occupies while in flight (`site:…`, `env:…`); ``target`` joins them.
    public var targets: [String]?
    /// For a queued job (on `GET /v1/jobs/{id}`): the job ahead of it on something both occupy, which must end
    /// first (one in flight, else an older queued one), and what they share (``waitingOn``).
    public var waitingBehind: Int64?
    public var waitingOn: String?
    /// The jobs this one comes after (on `GET /v1/jobs/{id}`, when there are any).
    public var after: [Int64]?
    /// -10 … 10.
    public var priority: Int?
    /// The plan the job is a step of, and the step's id.
    public var planID: Int64?
    public var step: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, state, params, note, target, targets, attempt, result, outputs, deadline, events, after
        case priority, step
        case planID = "plan_id"
        case operationID = "operation_id"
        case lastError = "last_error"
        case pollCount = "poll_count"
        case pendingAction = "pending_action"
        case nextActionAt = "next_action_at"
        case acceptedAt = "accepted_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case finishedAt = "finished_at"
        case submittedBy = "submitted_by"
        case waitingBehind = "waiting_behind"
        case waitingOn = "waiting_on"
    }

    public init(
        id: Int64,
        kind: String,
        state: String,
        params: [String: JSONValue],
        note: String?,
        target: String,
        attempt: Int,
        operationID: String?,
        result: JSONValue?,
        lastError: String?,
        pollCount: Int,
        pendingAction: String?,
        nextActionAt: Date?,
        acceptedAt: Date?,
        deadline: Date?,
        createdAt: Date,
        updatedAt: Date,
        finishedAt: Date?,
        submittedBy: PeerView?,
        events: [EventView]?
    ) {
        self.id = id
        self.kind = kind
        self.state = state
        self.params = params
        self.note = note
        self.target = target
        self.attempt = attempt
        self.operationID = operationID
        self.result = result
        self.lastError = lastError
        self.pollCount = pollCount
        self.pendingAction = pendingAction
        self.nextActionAt = nextActionAt
        self.acceptedAt = acceptedAt
        self.deadline = deadline
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.finishedAt = finishedAt
        self.submittedBy = submittedBy
        self.events = events
    }
}

/// `GET /v1/jobs` answer: newest first; pass `next_before` as `before` for the next page.
public struct JobListView: Codable, Sendable, Hashable {
    public var jobs: [JobView]
    public var nextBefore: Int64?

    enum CodingKeys: String, CodingKey {
        case jobs
        case nextBefore = "next_before"
    }

    public init(jobs: [JobView], nextBefore: Int64?) {
        self.jobs = jobs
        self.nextBefore = nextBefore
    }
}

/// Every error answer: `{"error": {"code", "message", "field"?}}`.
public struct ErrorView: Codable, Sendable, Hashable, Error {
    public struct Body: Codable, Sendable, Hashable {
        /// Stable, machine-readable, as sent: `invalid_json`, `unknown_kind`, `invalid_params`, `idempotency_conflict`,
        /// `not_found`, `conflict`, `bad_request`, `method_not_allowed`, `body_too_large`, `unsupported_media_type`,
        /// `internal`, `malformed_request`, `storage_unavailable`, `too_many_connections` (the socket's connection cap,
        /// answered 503 with `Retry-After: 1`), `unavailable`, `kinsta_not_found`, `kinsta_unavailable`,
        /// `kinsta_error`, `forbidden` (``ErrorCode`` says when each is sent). Kept as the raw string, so a code
        /// of a newer daemon still decodes; ``knownCode`` is the same code as this build knows it.
        public var code: String
        public var message: String
        public var field: String?

        /// ``code`` as an ``ErrorCode``; `nil` for a code this build does not know (a newer daemon's).
        public var knownCode: ErrorCode? { ErrorCode(rawValue: code) }

        public init(code: ErrorCode, message: String, field: String? = nil) {
            self.init(rawCode: code.rawValue, message: message, field: field)
        }

        /// A body with a code as read off the wire, known or not.
        public init(rawCode: String, message: String, field: String? = nil) {
            self.code = rawCode
            self.message = message
            self.field = field
        }
    }

    public var error: Body

    public init(code: ErrorCode, message: String, field: String? = nil) {
        self.error = Body(code: code, message: message, field: field)
    }
}

/// The JSON coding both ends of the socket use: ISO-8601 dates with milliseconds, sorted keys.
public enum WireJSON {
    public static func encoder() -> JSONEncoder { CanonicalJSON.encoder() }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO-8601 date: \(text)")
            }
            return date
        }
        return decoder
    }

    /// `2026-11-23T01:02:03.456Z`.
    public static func formatDate(_ date: Date) -> String { CanonicalJSON.formatDate(date) }

    public static func parseDate(_ text: String) -> Date? { CanonicalJSON.parseDate(text) }
}

/// A webhook delivery as the socket API shows it (`GET /v1/deliveries`).
public struct DeliveryView: Codable, Sendable, Hashable {
    public var id: Int64
    public var eventSeq: Int64
    public var jobID: Int64
    public var endpoint: String
    public var state: String
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastStatus: Int?
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?
    /// A pending delivery behind an older pending one to the same endpoint (sent oldest first): that one's ID.
    public var waitingBehind: Int64?

    enum CodingKeys: String, CodingKey {
        case id, endpoint, state, attempts
        case waitingBehind = "waiting_behind"
        case eventSeq = "event_seq"
        case jobID = "job_id"
        case nextAttemptAt = "next_attempt_at"
        case lastStatus = "last_status"
        case lastError = "last_error"
        case createdAt = "created_at"
        case deliveredAt = "delivered_at"
    }

    public init(
        id: Int64,
        eventSeq: Int64,
        jobID: Int64,
        endpoint: String,
        state: String,
        attempts: Int,
        nextAttemptAt: Date?,
        lastStatus: Int?,
        lastError: String?,
        createdAt: Date,
        deliveredAt: Date?
    ) {
        self.id = id
        self.eventSeq = eventSeq
        self.jobID = jobID
        self.endpoint = endpoint
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}

/// `GET /v1/kinds`: the catalog of job kinds, generated from the daemon's declarations.
public struct KindCatalogView: Codable, Sendable, Hashable {
    public var kinds: [KindView]

    public init(kinds: [KindView]) { self.kinds = kinds }
}

/// One kind: its Kinsta call, parameters, what it occupies and learns, and how an unclear submission is settled.
public struct KindView: Codable, Sendable, Hashable {
    public var name: String
    public var summary: String
    public var method: String
    public var path: String
    /// The HTTP status Kinsta answers with the operation ID (202, or 200 for a few).
    public var acceptedStatus: Int
    public var params: [KindParamView]
    public var outputs: [KindOutputView]
    public var targets: [String]
    public var settle: String
    public var repeatIsHarmless: Bool
    public var deadlineSeconds: Int
    public var typicalSeconds: [Double]
    /// How long its operations usually take, as the daemon has learned it: the 10th and 90th percentiles in seconds
    /// from Kinsta's acceptance (the prior's alone while ``observations`` is 0).
    public var usualSeconds: [Double]?
    /// How many operations of the kind the daemon's duration model has seen.
    public var observations: Int?

    enum CodingKeys: String, CodingKey {
        case name, summary, method, path, params, outputs, targets, settle, observations
        case usualSeconds = "usual_seconds"
        case acceptedStatus = "accepted_status"
        case repeatIsHarmless = "repeat_is_harmless"
        case deadlineSeconds = "deadline_seconds"
        case typicalSeconds = "typical_seconds"
    }

    public init(
        name: String,
        summary: String,
        method: String,
        path: String,
        acceptedStatus: Int,
        params: [KindParamView],
        outputs: [KindOutputView],
        targets: [String],
        settle: String,
        repeatIsHarmless: Bool,
        deadlineSeconds: Int,
        typicalSeconds: [Double]
    ) {
        self.name = name
        self.summary = summary
        self.method = method
        self.path = path
        self.acceptedStatus = acceptedStatus
        self.params = params
        self.outputs = outputs
        self.targets = targets
        self.settle = settle
        self.repeatIsHarmless = repeatIsHarmless
        self.deadlineSeconds = deadlineSeconds
        self.typicalSeconds = typicalSeconds
    }
}

/// One parameter of a kind.
public struct KindParamView: Codable, Sendable, Hashable {
    public var name: String
    /// `string`, `id`, `uuid`, `email`, `boolean`, `integer`, `a|b|c` (one of), `[T]` (a list), `wp-command`.
    public var type: String
    public var required: Bool
    public var secret: Bool
    public var `default`: JSONValue?
    /// Filled from the configuration when absent (`company_id`, `notified_user_id`).
    public var configured: String?
    /// Where it goes: `path` or `body`.
    public var location: String
    public var help: String

    public init(
        name: String,
        type: String,
        required: Bool,
        secret: Bool,
        default: JSONValue?,
        configured: String?,
        location: String,
        help: String
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.secret = secret
        self.default = `default`
        self.configured = configured
        self.location = location
        self.help = help
    }
}

/// One output of a kind.
public struct KindOutputView: Codable, Sendable, Hashable {
    public var name: String
    public var help: String

    public init(name: String, help: String) {
        self.name = name
        self.help = help
    }
}

/// A plan as the socket API shows it (`POST /v1/plans`, `GET /v1/plans/{id}`).
public struct PlanView: Codable, Sendable, Hashable {
    /// One step: its job and where it stands.
    public struct Step: Codable, Sendable, Hashable {
        public var step: String
        public var jobID: Int64
        public var kind: String
        public var state: String
        public var target: String
        /// The steps it comes after.
        public var after: [String]
        public var outputs: [String: JSONValue]?
        public var lastError: String?
        public var createdAt: Date
        public var updatedAt: Date
        public var finishedAt: Date?

        enum CodingKeys: String, CodingKey {
            case step, kind, state, target, after, outputs
            case jobID = "job_id"
            case lastError = "last_error"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
            case finishedAt = "finished_at"
        }

        public init(
            step: String,
            jobID: Int64,
            kind: String,
            state: String,
            target: String,
            after: [String],
            outputs: [String: JSONValue]?,
            lastError: String?,
            createdAt: Date,
            updatedAt: Date,
            finishedAt: Date?
        ) {
            self.step = step
            self.jobID = jobID
            self.kind = kind
            self.state = state
            self.target = target
            self.after = after
            self.outputs = outputs
            self.lastError = lastError
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.finishedAt = finishedAt
        }
    }

    public var id: Int64
    public var name: String
    /// `running`, `cancelling`, `succeeded`, `failed` or `cancelled`.
    public var state: String
    /// How many of its jobs are in each state (only states that have some).
    public var counts: [String: Int]
    public var steps: [Step]
    public var schedule: String?
    public var submittedBy: PeerView?
    public var createdAt: Date
    public var cancelledAt: Date?
    public var finishedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, state, counts, steps, schedule
        case submittedBy = "submitted_by"
        case createdAt = "created_at"
        case cancelledAt = "cancelled_at"
        case finishedAt = "finished_at"
    }

    public init(
        id: Int64,
        name: String,
        state: String,
        counts: [String: Int],
        steps: [Step],
        schedule: String?,
        submittedBy: PeerView?,
        createdAt: Date,
        cancelledAt: Date?,
        finishedAt: Date?
    ) {
        self.id = id
        self.name = name
        self.state = state
        self.counts = counts
        self.steps = steps
        self.schedule = schedule
        self.submittedBy = submittedBy
        self.createdAt = createdAt
        self.cancelledAt = cancelledAt
        self.finishedAt = finishedAt
    }

    /// Whether the plan has ended.
    public var isFinished: Bool { finishedAt != nil }
}

/// `GET /v1/plans` answer: newest first; pass `next_before` as `before` for the next page.
public struct PlanListView: Codable, Sendable, Hashable {
    public var plans: [PlanView]
    public var nextBefore: Int64?

    enum CodingKeys: String, CodingKey {
        case plans
        case nextBefore = "next_before"
    }

    public init(plans: [PlanView], nextBefore: Int64?) {
        self.plans = plans
        self.nextBefore = nextBefore
    }
}

/// A configured schedule and its last and next run (`GET /v1/schedules`).
public struct ScheduleView: Codable, Sendable, Hashable {
    public var name: String
    public var cron: String
    public var timezone: String
    public var jitterSeconds: Int
    /// `backup.create`, or `plan NAME (FILE)`.
    public var target: String
    /// The time of the last run handled (as the cron line names it), and when it fired.
    public var lastRunAt: Date?
    public var lastFiredAt: Date?
    /// `fired` or `skipped`.
    public var lastResult: String?
    public var lastPlanID: Int64?
    public var lastJobID: Int64?
    public var lastMessage: String?
    /// When it fires next, its jitter included.
    public var nextRunAt: Date?

    enum CodingKeys: String, CodingKey {
        case name, cron, timezone, target
        case jitterSeconds = "jitter_seconds"
        case lastRunAt = "last_run_at"
        case lastFiredAt = "last_fired_at"
        case lastResult = "last_result"
        case lastPlanID = "last_plan_id"
        case lastJobID = "last_job_id"
        case lastMessage = "last_message"
        case nextRunAt = "next_run_at"
    }

    public init(
        name: String,
        cron: String,
        timezone: String,
        jitterSeconds: Int,
        target: String,
        lastRunAt: Date?,
        lastFiredAt: Date?,
        lastResult: String?,
        lastPlanID: Int64?,
        lastJobID: Int64?,
        lastMessage: String?,
        nextRunAt: Date?
    ) {
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.jitterSeconds = jitterSeconds
        self.target = target
        self.lastRunAt = lastRunAt
        self.lastFiredAt = lastFiredAt
        self.lastResult = lastResult
        self.lastPlanID = lastPlanID
        self.lastJobID = lastJobID
        self.lastMessage = lastMessage
        self.nextRunAt = nextRunAt
    }
}

/// `GET /v1/schedules` answer.
public struct ScheduleListView: Codable, Sendable, Hashable {
    public var schedules: [ScheduleView]

    public init(schedules: [ScheduleView]) {
        self.schedules = schedules
    }
}
