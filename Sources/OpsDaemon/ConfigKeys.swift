import Foundation
import KinstaClient
import Logging
import OpsCore
import OpsWebhooks

/// What a key of the configuration file holds; a number carries the range it must be in.
enum ConfigValueType: Sendable, Hashable {
    case string
    case bool
    case number(ClosedRange<Double>)
    /// An array of whole numbers ≥ 0.
    case integers
    /// An array of strings.
    case strings
}

/// One key of the configuration file, described once: table, name, type (with its range), default and help. The
/// schema of known keys is made of these (``ConfigKeys/all``) and ``ConfigFile/read(_:)`` reads them, so a key's
/// spelling, range and default live here only. `Value` is what an absent key reads as: a `nil` default leaves the
/// choice to the caller (an environment variable, a value derived from another). `shown` is the key's effective
/// value in a loaded configuration, as `check-config` prints it (``DaemonConfiguration/redactedSummary``): a key
/// cannot be described without saying how it is shown.
struct ConfigKey<Value: Sendable>: Sendable {
    let table: String
    let name: String
    let type: ConfigValueType
    let defaultValue: Value
    let help: String
    let shown: @Sendable (DaemonConfiguration) -> ConfigShown

    /// The key without its value type, for the schema and the summary.
    var info: ConfigKeyInfo { ConfigKeyInfo(table: table, name: name, type: type, help: help, shown: shown) }
}

/// A key of the schema: where it lives, what it holds and how its effective value is shown.
struct ConfigKeyInfo: Sendable {
    let table: String
    let name: String
    let type: ConfigValueType
    let help: String
    let shown: @Sendable (DaemonConfiguration) -> ConfigShown
}

/// A key's effective value as `check-config` prints it: the one place where a value becomes summary text, and where
/// a secret is kept out of it.
struct ConfigShown: Sendable, Equatable {
    /// The value as TOML writes it; `nil` when it is not shown (a secret) or not set.
    let value: String?
    /// What is said about it, as a TOML comment: where a secret comes from, what an absent key means.
    let remark: String?

    init(_ value: String?, remark: String? = nil) {
        self.value = value
        self.remark = remark
    }

    /// Quoted; absent reads as empty, as the file would write it.
    static func string(_ value: String?) -> Self { Self(quoted(value ?? "")) }
    /// A whole number as an integer (`60`, not `60.0`): the file takes either.
    static func number(_ value: Double) -> Self {
        Self(value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : "\(value)")
    }
    static func integer(_ value: some BinaryInteger) -> Self { Self("\(value)") }
    static func bool(_ value: Bool) -> Self { Self("\(value)") }
    static func integers(_ values: [some BinaryInteger]) -> Self {
        Self("[" + values.map { "\($0)" }.joined(separator: ", ") + "]")
    }
    static func strings(_ values: [String]) -> Self { Self("[" + values.map(quoted).joined(separator: ", ") + "]") }
    /// A secret: never its value, and no value line a copied file would take as one.
    static let redacted = Self(nil, remark: "[redacted]")
    /// Scheme and host only: a Slack incoming-webhook URL carries its secret in the path.
    static func redactedURL(_ url: String) -> Self {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else {
            return .string("[redacted]")
        }
        let port = parsed.port.map { ":\($0)" } ?? ""
        return .string("\(scheme)://\(host)\(port)/[redacted]")
    }
    /// Not set, and what that means: `none`, `every state change`.
    static func words(_ text: String) -> Self { Self(nil, remark: text) }
    /// The value with a remark after it: `[1000]  # group IDs`.
    func noted(_ remark: String) -> Self { Self(value, remark: self.remark.map { "\($0), \(remark)" } ?? remark) }

    /// The summary line of the key `name`: `name = value  # remark`, or `# name: remark` without a value.
    func line(_ name: String) -> String {
        guard let value else { return "# \(name): \(remark ?? "not set")" }
        return "\(name) = \(value)" + (remark.map { "  # \($0)" } ?? "")
    }

    /// A TOML basic string.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += String(format: "\\u%04X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension ConfigKey where Value == String {
    static func string(
        _ table: String,
        _ name: String,
        default value: String,
        _ help: String,
        shown: @escaping @Sendable (DaemonConfiguration) -> ConfigShown
    ) -> Self {
        Self(table: table, name: name, type: .string, defaultValue: value, help: help, shown: shown)
    }
}

extension ConfigKey where Value == String? {
    static func string(
        _ table: String,
        _ name: String,
        _ help: String,
        shown: @escaping @Sendable (DaemonConfiguration) -> ConfigShown
    ) -> Self {
        Self(table: table, name: name, type: .string, defaultValue: nil, help: help, shown: shown)
    }
}

extension ConfigKey where Value == Bool {
    static func bool(
        _ table: String,
        _ name: String,
        default value: Bool,
        _ help: String,
        shown: @escaping @Sendable (DaemonConfiguration) -> ConfigShown
    ) -> Self {
        Self(table: table, name: name, type: .bool, defaultValue: value, help: help, shown: shown)
    }
}

extension ConfigKey where Value == Double {
    static func number(
        _ table: String,
        _ name: String,
        in range: ClosedRange<Double>,
        default value: Double,
        _ help: String,
        shown: @escaping @Sendable (DaemonConfiguration) -> ConfigShown
    ) -> Self {
        Self(table: table, name: name, type: .number(range), defaultValue: value, help: help, shown: shown)
    }
}

extension ConfigKey where Value == Double? {
    static func number(
        _ table: String,
        _ name: String,
        in range: ClosedRange<Double>,
        _ help: String,
        shown: @escaping @Sendable (DaemonConfiguration) -> ConfigShown
    ) -> Self {
        Self(table: table, name: name, type: .number(range), defaultValue: nil, help: help, shown: shown)
    }
}

extension ConfigKey where Value == [Int] {
    static func integers(
        _ table: String,
        _ name: String,
        _ help: String,
        shown: @escaping @Sendable (DaemonConfiguration) -> ConfigShown
    ) -> Self {
        Self(table: table, name: name, type: .integers, defaultValue: [], help: help, shown: shown)
    }
}

extension ConfigKey where Value == [String] {
    static func strings(
        _ table: String,
        _ name: String,
        _ help: String,
        shown: @escaping @Sendable (DaemonConfiguration) -> ConfigShown
    ) -> Self {
        Self(table: table, name: name, type: .strings, defaultValue: [], help: help, shown: shown)
    }
}

/// Every key of the configuration file (`[[webhooks]]` entries are read apart: they are a list of tables). The
/// shipped `config/kinsta-opsd.toml` shows each with its default.
enum ConfigKeys {
    // MARK: [kinsta]

    static let apiBaseURL = ConfigKey<String>.string(
        "kinsta",
        "api_base_url",
        default: "https://api.kinsta.com/v2",
        "API base URL (env KINSTA_API_BASE_URL)"
    ) { .string($0.kinsta.baseURL) }
    static let companyID = ConfigKey<String?>.string(
        "kinsta",
        "company_id",
        "company ID for jobs that name none; empty for none (env KINSTA_COMPANY_ID)"
    ) { .string($0.companyID) }
    static let notifiedUserID = ConfigKey<String?>.string(
        "kinsta",
        "notified_user_id",
        "user (UUID) Kinsta notifies of a restore that names none; empty for none (env KINSTA_NOTIFIED_USER_ID)"
    ) { .string($0.notifiedUserID) }
    static let restoreBody = ConfigKey<String>.string(
        "kinsta",
        "restore_body",
        default: "current",
        "\"current\" ({backup_id, notified_user_id}) or \"legacy\" ({backup_id, env_display_name_of_backup})"
    ) { .string($0.legacyRestoreBody ? "legacy" : "current") }
    static let apiKey = ConfigKey<String?>.string("kinsta", "api_key", "the API key inline (file mode 0600 only)") {
        .redacted.noted("from \($0.apiKeySource)")
    }
    static let apiKeyFile = ConfigKey<String?>.string("kinsta", "api_key_file", "a file holding the API key") {
        .string($0.apiKeyFile)
    }
    static let requestTimeout = ConfigKey<Double>.number(
        "kinsta",
        "request_timeout_seconds",
        in: 1...300,
        default: 30,
        "total deadline of one request to Kinsta"
    ) { .integer($0.kinsta.requestTimeout.components.seconds) }
    static let caFile = ConfigKey<String?>.string("kinsta", "ca_file", "CA bundle instead of the system's") {
        .string($0.kinsta.caFile)
    }
    static let requestsPerMinute = ConfigKey<Double>.number(
        "kinsta",
        "requests_per_minute",
        in: 1...100_000,
        default: 60,
        "request budget to Kinsta, per sliding minute"
    ) { .number($0.requestsPerMinute) }
    static let requestBurst = ConfigKey<Double>.number(
        "kinsta",
        "request_burst",
        in: 1...10_000,
        default: 10,
        "requests of the budget at once"
    ) { .number($0.requestBurst) }

    // MARK: [daemon]

    static let stateDir = ConfigKey<String?>.string(
        "daemon",
        "state_dir",
        "database and lock file (env KINSTA_OPSD_STATE_DIR; default $STATE_DIRECTORY, else /var/lib/kinsta-opsd)"
    ) { .string($0.stateDirectory) }
    static let socket = ConfigKey<String?>.string(
        "daemon",
        "socket",
        "the Unix socket (env KINSTA_OPSD_SOCKET; default $RUNTIME_DIRECTORY/kinsta-opsd.sock)"
    ) { .string($0.socketPath) }
    static let socketMode = ConfigKey<String>.string(
        "daemon",
        "socket_mode",
        default: "0660",
        "mode of the socket file, octal"
    ) { .string("0" + String($0.socketMode, radix: 8)) }
    static let socketGroup = ConfigKey<String?>.string(
        "daemon",
        "socket_group",
        "group owning the socket; empty for the daemon's"
    ) { .string($0.socketGroup) }
    static let logLevel = ConfigKey<String>.string(
        "daemon",
        "log_level",
        default: "info",
        "trace … critical (env KINSTA_OPSD_LOG_LEVEL)"
    ) { .string($0.logLevel.rawValue) }
    static let maxInFlight = ConfigKey<Double>.number(
        "daemon",
        "max_in_flight",
        in: 1...10_000,
        default: 8,
        "Kinsta operations in flight at once"
    ) { .integer($0.maxInFlight) }
    static let maxConcurrentRequests = ConfigKey<Double>.number(
        "daemon",
        "max_concurrent_requests",
        in: 1...256,
        default: 8,
        "requests to Kinsta under way at once"
    ) { .integer($0.maxConcurrentRequests) }
    static let shutdownGrace = ConfigKey<Double>.number(
        "daemon",
        "shutdown_grace_seconds",
        in: 0...600,
        default: 20,
        "how long a stopping daemon waits for requests under way"
    ) { .integer($0.shutdownGrace.components.seconds) }
    static let clientIdleTimeout = ConfigKey<Double>.number(
        "daemon",
        "client_idle_timeout_seconds",
        in: 1...3600,
        default: 30,
        "how long a client may stay without sending a whole request"
    ) { .number($0.clientIdleTimeout) }
    static let maxConnections = ConfigKey<Double>.number(
        "daemon",
        "max_connections",
        in: 1...100_000,
        default: 512,
        "socket connections served at once"
    ) { .integer($0.maxConnections) }
    static let allowedUIDs = ConfigKey<[Int]>.integers("daemon", "allowed_uids", "users who may use the socket") {
        .integers($0.allowedUIDs)
    }
    static let allowedGroups = ConfigKey<[String]>.strings(
        "daemon",
        "allowed_groups",
        "groups (names) whose members may use the socket"
    ) { .integers($0.allowedGroups).noted("group IDs") }

    // MARK: [polling]

    static let pollDefaults = PollPolicy()
    static let adaptiveDefaults = AdaptivePolling()

    static let startupWindow = ConfigKey<Double>.number(
        "polling",
        "startup_window_seconds",
        in: 0...3600,
        default: pollDefaults.startupWindow,
        "after acceptance, how long a 404 means not visible yet"
    ) { .number($0.pollPolicy.startupWindow) }
    static let firstPoll = ConfigKey<Double>.number(
        "polling",
        "first_poll_seconds",
        in: 0...600,
        default: pollDefaults.firstPollDelay,
        "from acceptance to the first poll"
    ) { .number($0.pollPolicy.firstPollDelay) }
    static let interval = ConfigKey<Double>.number(
        "polling",
        "interval_seconds",
        in: 0.1...600,
        default: pollDefaults.pollBackoff.base,
        "first spacing of polls"
    ) { .number($0.pollPolicy.pollBackoff.base) }
    static let maxInterval = ConfigKey<Double>.number(
        "polling",
        "max_interval_seconds",
        in: 0.1...3600,
        default: pollDefaults.pollBackoff.cap,
        "longest spacing of polls"
    ) { .number($0.pollPolicy.pollBackoff.cap) }
    static let multiplier = ConfigKey<Double>.number(
        "polling",
        "multiplier",
        in: 1...10,
        default: pollDefaults.pollBackoff.multiplier,
        "growth of the spacing"
    ) { .number($0.pollPolicy.pollBackoff.multiplier) }
    static let jitter = ConfigKey<Double>.number(
        "polling",
        "jitter",
        in: 0...0.9,
        default: pollDefaults.pollBackoff.jitter,
        "random spread of every delay, each way"
    ) { .number($0.pollPolicy.pollBackoff.jitter) }
    static let confirmations = ConfigKey<Double>.number(
        "polling",
        "confirmations",
        in: 1...20,
        default: Double(pollDefaults.confirmations),
        "sightings of a 500 or a late 404 before it is believed"
    ) { .integer($0.pollPolicy.confirmations) }
    static let confirmSpan = ConfigKey<Double>.number(
        "polling",
        "confirm_seconds",
        in: 0...86_400,
        default: pollDefaults.confirmSpan,
        "the span those sightings must stretch over"
    ) { .number($0.pollPolicy.confirmSpan) }
    static let errorBackoff = ConfigKey<Double>.number(
        "polling",
        "error_backoff_seconds",
        in: 0.1...600,
        default: pollDefaults.errorBackoff.base,
        "first backoff after transient trouble"
    ) { .number($0.pollPolicy.errorBackoff.base) }
    static let errorBackoffMax = ConfigKey<Double>.number(
        "polling",
        "error_backoff_max_seconds",
        in: 1...86_400,
        default: pollDefaults.errorBackoff.cap,
        "longest backoff after transient trouble"
    ) { .number($0.pollPolicy.errorBackoff.cap) }
    static let adaptive = ConfigKey<Bool>.bool(
        "polling",
        "adaptive",
        default: adaptiveDefaults.enabled,
        "the learning schedule"
    ) { .bool($0.pollPolicy.adaptive.enabled) }
    static let adaptiveMinInterval = ConfigKey<Double>.number(
        "polling",
        "adaptive_min_interval_seconds",
        in: 0.1...600,
        default: adaptiveDefaults.minSpacing,
        "shortest gap between adaptive polls"
    ) { .number($0.pollPolicy.adaptive.minSpacing) }
    static let adaptiveMaxInterval = ConfigKey<Double>.number(
        "polling",
        "adaptive_max_interval_seconds",
        in: 0.1...3600,
        default: adaptiveDefaults.maxSpacing,
        "longest gap between adaptive polls (the lag cap)"
    ) { .number($0.pollPolicy.adaptive.maxSpacing) }
    static let adaptiveTradeoff = ConfigKey<Double>.number(
        "polling",
        "adaptive_tradeoff",
        in: 0.1...10,
        default: adaptiveDefaults.tradeoff,
        "scales every adaptive gap"
    ) { .number($0.pollPolicy.adaptive.tradeoff) }
    static let adaptiveHistory = ConfigKey<Double>.number(
        "polling",
        "adaptive_history",
        in: 10...100_000,
        default: Double(adaptiveDefaults.history),
        "observed durations kept per kind"
    ) { .integer($0.pollPolicy.adaptive.history) }

    // MARK: [deadlines], [settle_grace], [retention]

    /// `[deadlines] <kind>`: seconds from the start of an attempt to `timed_out`; absent, the kind's own.
    static func deadline(_ kind: JobKind) -> ConfigKey<Double?> {
        .number("deadlines", ConfigLoader.deadlineKey(kind), in: 10...7 * 86_400, "deadline of \(kind.rawValue)") {
            .integer(Int($0.pollPolicy.deadlines[kind] ?? Double(kind.spec.defaultDeadline)))
        }
    }

    /// `[settle_grace] <kind>`: seconds an unclear create waits for a trace at Kinsta; absent, the kind's own.
    static func settleGrace(_ kind: JobKind) -> ConfigKey<Double?> {
        .number(
            "settle_grace",
            ConfigLoader.deadlineKey(kind),
            in: 1...7 * 86_400,
            "settle grace of \(kind.rawValue)"
        ) { .number($0.pollPolicy.settleGrace(for: kind)) }
    }

    static let retentionDays = ConfigKey<Double>.number(
        "retention",
        "days",
        in: 1...3650,
        default: 90,
        "days an ended job is kept"
    ) { .number($0.retentionDays) }

    // MARK: [approval]

    static let approvalKinds = ConfigKey<[String]>.strings(
        "approval",
        "kinds",
        "kinds whose jobs are held until an admin approves them"
    ) { .strings($0.approvalKinds.map(\.rawValue)) }
    static let distinctApprover = ConfigKey<Bool>.bool(
        "approval",
        "distinct_approver",
        default: false,
        "an approver must be another user than the submitter"
    ) { .bool($0.distinctApprover) }

    /// The table: every key the file may hold, in the order the shipped file shows them.
    static let all: [ConfigKeyInfo] =
        [
            apiBaseURL.info, companyID.info, notifiedUserID.info, restoreBody.info, apiKeyFile.info, apiKey.info,
            requestTimeout.info, caFile.info,
            requestsPerMinute.info, requestBurst.info,
            stateDir.info, socket.info, socketMode.info, socketGroup.info, logLevel.info, maxInFlight.info,
            maxConcurrentRequests.info, shutdownGrace.info, clientIdleTimeout.info, maxConnections.info,
            allowedUIDs.info, allowedGroups.info,
            startupWindow.info, firstPoll.info, interval.info, maxInterval.info, multiplier.info, jitter.info,
            confirmations.info, confirmSpan.info, errorBackoff.info, errorBackoffMax.info, adaptive.info,
            adaptiveMinInterval.info, adaptiveMaxInterval.info, adaptiveTradeoff.info, adaptiveHistory.info,
        ]
        + JobKind.allCases.map { deadline($0).info } + JobKind.allCases.map { settleGrace($0).info }
        + [retentionDays.info, approvalKinds.info, distinctApprover.info]

    /// The keys of a `[[webhooks]]` entry, in the order the summary shows them.
    static let webhookKeys: [WebhookKey] = [
        WebhookKey("name") { .string($0.name) },
        WebhookKey("url") { .redactedURL($0.url) },
        WebhookKey("format") { .string($0.format.rawValue) },
        WebhookKey("secret") { $0.secret == nil ? .words("none") : .redacted },
        // Read into `secret` when the configuration is loaded; the summary shows the secret (redacted) only.
        WebhookKey("secret_file", shownInSummary: false) { _ in .words("") },
        WebhookKey("events") { endpoint in
            endpoint.events.map {
                .strings(
                    $0.map { "job.\($0.rawValue)" }.sorted() + (endpoint.plans ? ["plan.finished"] : [])
                        + (endpoint.schedules ? ["schedule.skipped"] : [])
                )
            }
                ?? .words("every state change, plan.finished and schedule.skipped")
        },
        WebhookKey("headers") { endpoint in
            endpoint.headers.isEmpty
                ? ConfigShown("{}")
                : .words(endpoint.headers.keys.sorted().joined(separator: ", ") + " (values redacted)")
        },
    ]

    /// Tables and their known keys, from ``all``.
    static let schema: [String: Set<String>] = Dictionary(grouping: all, by: \.table).mapValues { Set($0.map(\.name)) }
}

/// A key of a `[[webhooks]]` entry and how an endpoint shows it.
struct WebhookKey: Sendable {
    let name: String
    /// Whether the summary has a line for it (not for `secret_file`, which becomes `secret`).
    let shownInSummary: Bool
    let shown: @Sendable (WebhookEndpoint) -> ConfigShown

    init(
        _ name: String,
        shownInSummary: Bool = true,
        shown: @escaping @Sendable (WebhookEndpoint) -> ConfigShown
    ) {
        self.name = name
        self.shownInSummary = shownInSummary
        self.shown = shown
    }
}

extension ConfigKey {
    /// `table.name`, as error messages name the key.
    var dotted: String { "\(table).\(name)" }

    /// The range of a number key.
    var range: ClosedRange<Double> {
        guard case .number(let range) = type else { preconditionFailure("\(dotted) is not a number") }
        return range
    }
}
