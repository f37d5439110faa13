import Foundation
public import KinstaClient
public import Logging
public import OpsCore
public import OpsWebhooks

/// Everything the daemon runs with, after the file, the environment and the credentials were merged and checked.
public struct DaemonConfiguration: Sendable {
    public var kinsta: KinstaConfiguration
    /// Filled into `company` when a job leaves it out.
    public var companyID: String?
    /// Filled into a restore's `notified_user_id` when it names none.
    public var notifiedUserID: String?
    /// A restore sends the older body (`env_display_name_of_backup`).
    public var legacyRestoreBody = false
    /// What the configuration fills into or decides for job parameters.
    public var paramDefaults: ParamDefaults {
        ParamDefaults(company: companyID, notifiedUserID: notifiedUserID, legacyRestoreBody: legacyRestoreBody)
    }
    /// Where the SQLite database and the lock file live.
    public var stateDirectory: String
    public var socketPath: String
    /// Mode of the socket file (default 0660: owner and group may connect).
    public var socketMode: UInt16
    /// Group that owns the socket, when set; clients in it may connect.
    public var socketGroup: String?
    public var logLevel: Logger.Level
    /// Kinsta operations in flight at once, over all targets.
    public var maxInFlight: Int
    /// Calls to Kinsta under way at once.
    public var maxConcurrentRequests: Int
    /// How long a stopping daemon waits for calls under way before it quits anyway.
    public var shutdownGrace: Duration
    /// Seconds a socket client may stay connected without sending a (complete) request before it is dropped.
    public var clientIdleTimeout: Double
    /// Socket connections served at once; one more is answered 503 `too_many_connections` and closed. Kept under
    /// the open-file limit so that a flood of clients cannot leave the daemon without descriptors for Kinsta,
    /// webhooks and SQLite.
    public var maxConnections: Int
    public var pollPolicy: PollPolicy
    /// Jobs that ended longer ago than this, and their events, are deleted.
    public var retentionDays: Double
    /// When non-empty (with ``allowedGroups``), only these peers may use the socket; others get 403.
    public var allowedUIDs: [UInt32]
    /// Group IDs (resolved from names at load) whose members may use the socket.
    public var allowedGroups: [UInt32]
    /// Problems that do not stop the daemon but an admin should fix (logged at start).
    public var warnings: [String]
    /// Where state changes are delivered.
    public var webhooks: [WebhookEndpoint]
    /// The request budget shared by every call to Kinsta.
    public var requestsPerMinute: Double
    public var requestBurst: Double
    /// Where the API key came from, for `check-config` (never the key itself).
    public var apiKeySource: String

    /// The database file inside the state directory.
    public var databasePath: String { stateDirectory + "/kinsta-opsd.sqlite" }
    /// The lock that keeps a second daemon off the same state directory.
    public var lockPath: String { stateDirectory + "/kinsta-opsd.lock" }

    public init(
        kinsta: KinstaConfiguration,
        companyID: String?,
        stateDirectory: String,
        socketPath: String,
        socketMode: UInt16 = 0o660,
        socketGroup: String? = nil,
        logLevel: Logger.Level = .info,
        maxInFlight: Int = 8,
        maxConcurrentRequests: Int = 8,
        shutdownGrace: Duration = .seconds(20),
        clientIdleTimeout: Double = 30,
        maxConnections: Int = 512,
        pollPolicy: PollPolicy = PollPolicy(),
        retentionDays: Double = 90,
        allowedUIDs: [UInt32] = [],
        allowedGroups: [UInt32] = [],
        warnings: [String] = [],
        webhooks: [WebhookEndpoint] = [],
        requestsPerMinute: Double = 60,
        requestBurst: Double = 10,
        apiKeySource: String = "given"
    ) {
        self.requestsPerMinute = requestsPerMinute
        self.requestBurst = requestBurst
        self.webhooks = webhooks
        self.allowedUIDs = allowedUIDs
        self.allowedGroups = allowedGroups
        self.warnings = warnings
        self.retentionDays = retentionDays
        self.kinsta = kinsta
        self.companyID = companyID
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.socketGroup = socketGroup
        self.logLevel = logLevel
        self.maxInFlight = maxInFlight
        self.maxConcurrentRequests = maxConcurrentRequests
        self.shutdownGrace = shutdownGrace
        self.clientIdleTimeout = clientIdleTimeout
        self.maxConnections = maxConnections
        self.pollPolicy = pollPolicy
        self.apiKeySource = apiKeySource
    }

    /// Scheme and host only: a Slack incoming-webhook URL carries its secret in the path.
    static func redactedURL(_ url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else {
            return "[redacted]"
        }
        let port = parsed.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)/[redacted]"
    }

    /// The effective settings as TOML-like lines, secrets redacted: what `check-config` prints.
    public var redactedSummary: String {
        let policy = pollPolicy
        var lines = [
            "[kinsta]",
            "api_base_url = \"\(kinsta.baseURL)\"",
            "company_id = \"\(companyID ?? "")\"",
            "notified_user_id = \"\(notifiedUserID ?? "")\"",
            "restore_body = \"\(legacyRestoreBody ? "legacy" : "current")\"",
            "api_key = [redacted] (from \(apiKeySource))",
            "request_timeout_seconds = \(kinsta.requestTimeout.components.seconds)",
            "ca_file = \"\(kinsta.caFile ?? "")\"",
            "requests_per_minute = \(requestsPerMinute)",
            "request_burst = \(requestBurst)",
            "",
            "[daemon]",
            "state_dir = \"\(stateDirectory)\"",
            "socket = \"\(socketPath)\"",
            "socket_mode = \"0\(String(socketMode, radix: 8))\"",
            "socket_group = \"\(socketGroup ?? "")\"",
            "log_level = \"\(logLevel.rawValue)\"",
            "max_in_flight = \(maxInFlight)",
            "max_concurrent_requests = \(maxConcurrentRequests)",
            "shutdown_grace_seconds = \(shutdownGrace.components.seconds)",
            "client_idle_timeout_seconds = \(clientIdleTimeout)",
            "max_connections = \(maxConnections)",
            "allowed_uids = \(allowedUIDs)",
            "allowed_groups = \(allowedGroups) (group IDs)",
            "",
            "[polling]",
            "startup_window_seconds = \(policy.startupWindow)",
            "first_poll_seconds = \(policy.firstPollDelay)",
            "interval_seconds = \(policy.pollBackoff.base)",
            "max_interval_seconds = \(policy.pollBackoff.cap)",
            "multiplier = \(policy.pollBackoff.multiplier)",
            "jitter = \(policy.pollBackoff.jitter)",
            "confirmations = \(policy.confirmations)",
            "confirm_seconds = \(policy.confirmSpan)",
            "error_backoff_seconds = \(policy.errorBackoff.base)",
            "error_backoff_max_seconds = \(policy.errorBackoff.cap)",
            "adaptive = \(policy.adaptive.enabled)",
            "adaptive_min_interval_seconds = \(policy.adaptive.minSpacing)",
            "adaptive_max_interval_seconds = \(policy.adaptive.maxSpacing)",
            "adaptive_tradeoff = \(policy.adaptive.tradeoff)",
            "adaptive_history = \(policy.adaptive.history)",
            "",
            "[deadlines]",
        ]
        for kind in JobKind.allCases {
            let seconds = policy.deadlines[kind] ?? Double(kind.spec.defaultDeadline)
            lines.append("\(ConfigLoader.deadlineKey(kind)) = \(Int(seconds))")
        }
        lines += ["", "[retention]", "days = \(retentionDays)"]
        for endpoint in webhooks {
            lines += [
                "", "[[webhooks]]", "name = \"\(endpoint.name)\"", "url = \"\(Self.redactedURL(endpoint.url))\"",
                "format = \"\(endpoint.format.rawValue)\"",
                "secret = \(endpoint.secret == nil ? "(none)" : "[redacted]")",
                "events = \(endpoint.events.map { $0.map { "job.\($0.rawValue)" }.sorted() }?.description ?? "(every state change)")",
                "headers = \(endpoint.headers.keys.sorted()) (values redacted)",
            ]
        }
        return lines.joined(separator: "\n")
    }
}
