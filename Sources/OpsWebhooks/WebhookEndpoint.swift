public import Foundation
public import OpsCore

/// How a delivery's body is shaped.
public enum WebhookFormat: String, Sendable, Codable, CaseIterable {
    /// Standard Webhooks v1: signed JSON.
    case standard
    /// A Slack incoming webhook: `{"text": …}`.
    case slack
}

/// A webhook configuration problem, naming the field.
public struct WebhookConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A Standard Webhooks secret, `whsec_<base64>`. Its `description` never shows the key.
public struct WebhookSecret: Sendable, Hashable, CustomStringConvertible {
    /// The HMAC key: the base64-decoded bytes after the prefix.
    public let key: Data

    public init(_ text: String) throws(WebhookConfigError) {
        guard text.hasPrefix("whsec_") else {
            throw WebhookConfigError("a webhook secret must look like whsec_<base64> (Standard Webhooks)")
        }
        guard let key = Data(base64Encoded: String(text.dropFirst("whsec_".count))) else {
            throw WebhookConfigError("the webhook secret after whsec_ is not valid base64")
        }
        guard key.count >= 16 else {
            throw WebhookConfigError("the webhook secret is \(key.count) bytes; use at least 16 (24–64 recommended)")
        }
        self.key = key
    }

    /// The `whsec_…` form, for writing configuration only.
    public var text: String { "whsec_" + key.base64EncodedString() }

    public var description: String { "whsec_[redacted]" }
}

/// One configured receiver.
public struct WebhookEndpoint: Sendable, Hashable {
    public var name: String
    public var url: String
    /// Required for `standard`; `slack` URLs carry their own secret.
    public var secret: WebhookSecret?
    /// States whose events it receives; `nil` for every state change.
    public var events: Set<JobState>?
    /// Whether it receives `plan.finished` (a Slack endpoint then gets one message per plan, not one per job of it).
    public var plans: Bool
    /// Whether it receives `schedule.skipped` (a schedule's run skipped because its previous run was still going).
    public var schedules: Bool
    public var format: WebhookFormat
    /// Extra request headers (e.g. an `Authorization` of the receiver's own).
    public var headers: [String: String]

    public init(
        name: String,
        url: String,
        secret: WebhookSecret?,
        events: Set<JobState>?,
        format: WebhookFormat,
        headers: [String: String] = [:],
        plans: Bool = true,
        schedules: Bool = true
    ) throws(WebhookConfigError) {
        guard !name.isEmpty, name.count <= 64,
            name.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_".unicodeScalars.contains($0)
            })
        else {
            throw WebhookConfigError("webhook name \(name) must be 1–64 of a-z, 0-9, '-', '_'")
        }
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
            parsed.host?.isEmpty == false,
            !url.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw WebhookConfigError("webhook \(name): url must be an http(s) URL with a host, not \(url)")
        }
        if format == .standard, secret == nil {
            throw WebhookConfigError("webhook \(name): a standard endpoint needs a secret (whsec_…)")
        }
        let reserved: Set<String> = [
            "content-type", "content-length", "host", "webhook-id", "webhook-timestamp",
            "webhook-signature", "user-agent",
        ]
        for (header, value) in headers {
            let invalid =
                header.isEmpty || header.unicodeScalars.contains { !($0.isASCII && $0.value > 32 && $0 != ":") }
            guard !invalid, !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw WebhookConfigError("webhook \(name): header \(header) is not a valid header")
            }
            guard !reserved.contains(header.lowercased()) else {
                throw WebhookConfigError("webhook \(name): header \(header) is set by the daemon itself")
            }
        }
        self.name = name
        self.url = url
        self.secret = secret
        self.events = events
        self.plans = plans
        self.schedules = schedules
        self.format = format
        self.headers = headers
    }

    /// Whether an event that moved a job to `state` goes to this endpoint.
    public func wants(_ state: JobState) -> Bool { events?.contains(state) ?? true }

    /// Whether the event that moved `job` goes to this endpoint: a Slack endpoint that hears of plans hears of a
    /// plan's jobs only through its one summary.
    public func wants(_ state: JobState, inPlan: Bool) -> Bool {
        wants(state) && !(inPlan && plans && format == .slack)
    }

    /// Which events an endpoint configured with `events` receives.
    public struct EventFilter: Sendable, Hashable {
        public var states: Set<JobState>
        public var plans: Bool
        public var schedules: Bool

        public init(states: Set<JobState>, plans: Bool, schedules: Bool) {
            self.states = states
            self.plans = plans
            self.schedules = schedules
        }
    }

    /// Event names as configured: `job.succeeded` or `succeeded`, `plan.finished`, `schedule.skipped`.
    public static func parseEvents(_ names: [String]) throws(WebhookConfigError) -> EventFilter {
        var states: Set<JobState> = []
        var plans = false
        var schedules = false
        for name in names {
            if name == "plan.finished" {
                plans = true
                continue
            }
            if name == "schedule.skipped" {
                schedules = true
                continue
            }
            let bare = name.hasPrefix("job.") ? String(name.dropFirst(4)) : name
            guard let state = JobState(rawValue: bare) else {
                throw WebhookConfigError(
                    "unknown event \(name); events are plan.finished, schedule.skipped and job.<state>: "
                        + JobState.allCases.map { "job.\($0.rawValue)" }.joined(separator: ", ")
                )
            }
            states.insert(state)
        }
        return EventFilter(states: states, plans: plans, schedules: schedules)
    }
}
