public import Foundation
public import OpsCore

/// A secret-free summary of the job an event is about.
public struct JobSummary: Sendable, Hashable, Codable {
    public var id: Int64
    public var kind: String
    public var state: String
    public var params: [String: JSONValue]
    public var operationID: String?
    public var attempt: Int
    public var createdAt: Date
    public var finishedAt: Date?
    public var lastError: String?
    public var result: JSONValue?
    /// What the job learned once it succeeded, under its kind's output names (`site_id`, `backup_id`, …).
    public var outputs: [String: JSONValue]?

    enum CodingKeys: String, CodingKey {
        case id, kind, state, params, attempt, result, outputs
        case operationID = "operation_id"
        case createdAt = "created_at"
        case finishedAt = "finished_at"
        case lastError = "last_error"
    }

    /// Keys dropped from `params` whatever the caller passes: a webhook never carries a secret. The catalog's secret
    /// parameters (``ParamSpec/secret``), whatever kinds it grows to hold.
    static let secretKeys: Set<String> = SecretMask.catalogNames

    public init(
        id: Int64,
        kind: String,
        state: String,
        params: [String: JSONValue],
        operationID: String?,
        attempt: Int,
        createdAt: Date,
        finishedAt: Date?,
        lastError: String?,
        result: JSONValue?
    ) {
        self.id = id
        self.kind = kind
        self.state = state
        self.params = params.filter { !Self.secretKeys.contains($0.key) }
        self.operationID = operationID
        self.attempt = attempt
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.lastError = lastError
        self.result = result
        if state == JobState.succeeded.rawValue, let spec = JobKind(rawValue: kind)?.spec, !spec.outputs.isEmpty {
            outputs = spec.outputs(from: result, params: params)
        }
    }
}

/// A state change, as webhooks report it.
public struct WebhookEvent: Sendable, Hashable, Codable {
    public var seq: Int64
    public var at: Date
    public var from: String?
    public var to: String
    public var attempt: Int
    public var operationID: String?
    public var message: String?
    public var job: JobSummary

    enum CodingKeys: String, CodingKey {
        case seq, at, from, to, attempt, message
        case operationID = "operation_id"
    }

    public init(
        seq: Int64,
        at: Date,
        from: String?,
        to: String,
        attempt: Int,
        operationID: String?,
        message: String?,
        job: JobSummary
    ) {
        self.seq = seq
        self.at = at
        self.from = from
        self.to = to
        self.attempt = attempt
        self.operationID = operationID
        self.message = message
        self.job = job
    }

    public init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "events are encoded, not decoded"))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(at, forKey: .at)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(attempt, forKey: .attempt)
        try container.encodeIfPresent(operationID, forKey: .operationID)
        try container.encodeIfPresent(message, forKey: .message)
    }
}

/// Bodies of deliveries.
public enum WebhookPayload {
    /// Bodies stay under this many bytes; long texts are cut (with "…") until they fit.
    public static let maximumBytes = 20_000

    /// `{"type": "job.<to>", "timestamp", "data": {"job": {…}, "event": {…}}}`, keys sorted, dates ISO-8601 with ms.
    public static func standard(_ event: WebhookEvent) -> Data {
        var event = event
        var limit = 2000
        while true {
            let body = encode(event)
            if body.count < maximumBytes || limit < 16 { return body }
            event = shortened(event, to: limit)
            limit /= 2
        }
    }

    private struct Envelope: Encodable {
        struct Content: Encodable {
            var job: JobSummary
            var event: WebhookEvent
        }

        var type: String
        var timestamp: Date
        var data: Content
    }

    private static func encode(_ event: WebhookEvent) -> Data {
        let encoder = CanonicalJSON.encoder()
        let envelope = Envelope(type: "job.\(event.to)", timestamp: event.at, data: .init(job: event.job, event: event))
        return (try? encoder.encode(envelope)) ?? Data("{}".utf8)
    }

    private static func shortened(_ event: WebhookEvent, to limit: Int) -> WebhookEvent {
        var event = event
        event.message = event.message.map { cut($0, limit) }
        event.job.lastError = event.job.lastError.map { cut($0, limit) }
        event.job.params = event.job.params.mapValues { value in
            if case .string(let text) = value { return .string(cut(text, limit)) }
            return value
        }
        if let result = event.job.result, encode(event).count >= maximumBytes {
            event.job.result = .string(cut("\(result)", limit))
        }
        return event
    }

    static func cut(_ text: String, _ limit: Int) -> String {
        text.count > limit ? String(text.prefix(limit)) + "…" : text
    }

    static func iso(_ date: Date) -> String { CanonicalJSON.formatDate(date) }

    /// A Slack incoming-webhook body: one line of text a channel can read.
    public static func slack(_ event: WebhookEvent) -> Data {
        let emoji =
            switch event.to {
            case "succeeded": "✅"
            case "failed": "❌"
            case "timed_out": "⏱"
            case "needs_attention": "⚠️"
            case "cancelled": "🚫"
            default: "⏳"
            }
        let params = event.job.params
        let subject = JobKind(rawValue: event.job.kind)?.spec.subject
        let target = subject.flatMap { params[$0]?.stringValue } ?? "job \(event.job.id)"
        let phrase =
            switch event.to {
            case "succeeded": "succeeded"
            case "failed": "failed"
            case "timed_out": "timed out"
            case "needs_attention": "needs attention"
            case "cancelled": "was cancelled"
            default: "is now \(event.to)"
            }
        var text = "\(emoji) \(event.job.kind) *\(target)* \(phrase)"
        if ["succeeded", "failed", "timed_out", "needs_attention", "cancelled"].contains(event.to) {
            text += " after \(DurationText.format(event.at.timeIntervalSince(event.job.createdAt)))"
        }
        text += " (job \(event.job.id)"
        if let operationID = event.operationID { text += ", operation `\(operationID)`" }
        text += ")"
        if ["failed", "timed_out", "needs_attention"].contains(event.to), let why = event.job.lastError ?? event.message
        {
            text += "\n> \(cut(why, 500))"
        }
        return (try? CanonicalJSON.encoder().encode(["text": text])) ?? Data("{}".utf8)
    }
}
