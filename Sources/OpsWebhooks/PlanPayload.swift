public import Foundation
import OpsCore

/// A plan's end, as webhooks report it: `plan.finished`, one per plan.
public struct PlanFinishedEvent: Sendable, Hashable {
    /// One job of the plan.
    public struct Step: Sendable, Hashable {
        public var step: String
        public var jobID: Int64
        public var kind: String
        public var state: String
        /// Why it ended as it did, when it did not succeed.
        public var lastError: String?

        public init(step: String, jobID: Int64, kind: String, state: String, lastError: String?) {
            self.step = step
            self.jobID = jobID
            self.kind = kind
            self.state = state
            self.lastError = lastError
        }
    }

    public var seq: Int64
    public var at: Date
    public var planID: Int64
    public var name: String
    /// `succeeded`, `failed` or `cancelled`.
    public var outcome: String
    public var createdAt: Date
    public var schedule: String?
    /// How many jobs ended in each state.
    public var counts: [String: Int]
    public var steps: [Step]
    public var message: String?

    public init(
        seq: Int64,
        at: Date,
        planID: Int64,
        name: String,
        outcome: String,
        createdAt: Date,
        schedule: String?,
        counts: [String: Int],
        steps: [Step],
        message: String?
    ) {
        self.seq = seq
        self.at = at
        self.planID = planID
        self.name = name
        self.outcome = outcome
        self.createdAt = createdAt
        self.schedule = schedule
        self.counts = counts
        self.steps = steps
        self.message = message
    }
}

extension WebhookPayload {
    /// At most this many steps are listed in a body; the counts always cover them all.
    static let maximumListedSteps = 200

    /// `{"type": "plan.finished", "timestamp", "data": {"plan": {id, name, outcome, counts, steps, …},
    /// "event": {seq, at, message}}}`, keys sorted.
    public static func planFinished(_ event: PlanFinishedEvent) -> Data {
        var steps: [JSONValue] = []
        for step in event.steps.prefix(maximumListedSteps) {
            var object: [String: JSONValue] = [
                "step": .string(step.step), "job_id": .integer(step.jobID), "kind": .string(step.kind),
                "state": .string(step.state),
            ]
            if let error = step.lastError { object["last_error"] = .string(cut(error, 500)) }
            steps.append(.object(object))
        }
        var plan: [String: JSONValue] = [
            "id": .integer(event.planID), "name": .string(event.name), "outcome": .string(event.outcome),
            "created_at": .string(iso(event.createdAt)), "finished_at": .string(iso(event.at)),
            "counts": .object(event.counts.mapValues { .integer(Int64($0)) }), "steps": .array(steps),
            "steps_total": .integer(Int64(event.steps.count)),
        ]
        if let schedule = event.schedule { plan["schedule"] = .string(schedule) }
        var eventObject: [String: JSONValue] = ["seq": .integer(event.seq), "at": .string(iso(event.at))]
        if let message = event.message { eventObject["message"] = .string(message) }
        let envelope: JSONValue = [
            "type": "plan.finished", "timestamp": .string(iso(event.at)),
            "data": .object(["plan": .object(plan), "event": .object(eventObject)]),
        ]
        return Data(CanonicalJSON.text(envelope).utf8)
    }

    /// One Slack message for the whole plan, instead of one per job: its outcome, its counts, and the steps that
    /// did not succeed (up to ten).
    public static func slackPlanFinished(_ event: PlanFinishedEvent) -> Data {
        let emoji =
            switch event.outcome {
            case "succeeded": "✅"
            case "cancelled": "🚫"
            default: "❌"
            }
        let count = { (state: String) in event.counts[state] ?? 0 }
        var text =
            "\(emoji) plan *\(event.name)* \(event.outcome) after "
            + "\(DurationText.format(event.at.timeIntervalSince(event.createdAt))) (plan \(event.planID)): "
            + "\(count("succeeded")) succeeded, \(count("failed")) failed, \(count("skipped")) skipped"
        let others = event.counts.filter { !["succeeded", "failed", "skipped"].contains($0.key) && $0.value > 0 }
        for (state, number) in others.sorted(by: { $0.key < $1.key }) {
            text += ", \(number) \(state.replacing("_", with: " "))"
        }
        let notSucceeded = event.steps.filter { $0.state != "succeeded" && $0.state != "skipped" }
        for step in notSucceeded.prefix(10) {
            text += "\n> \(step.step) (\(step.kind), job \(step.jobID)) \(step.state.replacing("_", with: " "))"
            if let why = step.lastError { text += ": \(cut(why, 200))" }
        }
        if notSucceeded.count > 10 { text += "\n> … and \(notSucceeded.count - 10) more" }
        return (try? CanonicalJSON.encoder().encode(["text": text])) ?? Data("{}".utf8)
    }
}

extension WebhookDelivery {
    public static func body(_ event: PlanFinishedEvent, format: WebhookFormat) -> Data {
        switch format {
        case .standard: WebhookPayload.planFinished(event)
        case .slack: WebhookPayload.slackPlanFinished(event)
        }
    }
}

/// A schedule's run skipped because its previous run was still going: `schedule.skipped`.
public struct ScheduleSkippedEvent: Sendable, Hashable {
    public var seq: Int64
    public var at: Date
    public var schedule: String
    /// The job of the previous run still going, and its state.
    public var jobID: Int64
    public var kind: String
    public var state: String
    public var message: String?

    public init(
        seq: Int64,
        at: Date,
        schedule: String,
        jobID: Int64,
        kind: String,
        state: String,
        message: String?
    ) {
        self.seq = seq
        self.at = at
        self.schedule = schedule
        self.jobID = jobID
        self.kind = kind
        self.state = state
        self.message = message
    }
}

extension WebhookPayload {
    /// `{"type": "schedule.skipped", "timestamp", "data": {"schedule", "job": {id, kind, state}, "event": {seq, at,
    /// message}}}`, keys sorted.
    public static func scheduleSkipped(_ event: ScheduleSkippedEvent) -> Data {
        var eventObject: [String: JSONValue] = ["seq": .integer(event.seq), "at": .string(iso(event.at))]
        if let message = event.message { eventObject["message"] = .string(cut(message, 2000)) }
        let envelope: JSONValue = [
            "type": "schedule.skipped", "timestamp": .string(iso(event.at)),
            "data": [
                "schedule": .string(event.schedule),
                "job": ["id": .integer(event.jobID), "kind": .string(event.kind), "state": .string(event.state)],
                "event": .object(eventObject),
            ],
        ]
        return Data(CanonicalJSON.text(envelope).utf8)
    }

    /// `⏭ schedule *nightly* skipped a run: …` for Slack.
    public static func slackScheduleSkipped(_ event: ScheduleSkippedEvent) -> Data {
        let text =
            "⏭ schedule *\(event.schedule)* skipped a run: the previous one (job \(event.jobID), \(event.kind)) is "
            + "still \(event.state.replacing("_", with: " "))"
        return (try? CanonicalJSON.encoder().encode(["text": text])) ?? Data("{}".utf8)
    }
}

extension WebhookDelivery {
    public static func body(_ event: ScheduleSkippedEvent, format: WebhookFormat) -> Data {
        switch format {
        case .standard: WebhookPayload.scheduleSkipped(event)
        case .slack: WebhookPayload.slackScheduleSkipped(event)
        }
    }
}
