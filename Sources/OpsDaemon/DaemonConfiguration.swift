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
    /// `[approval] kinds`: their jobs are stored `held` until `approve`.
    public var approvalKinds: Set<JobKind> = []
    /// `[approval] distinct_approver`: the submitter cannot approve its own job.
    public var distinctApprover = false
    /// `[[schedules]]`: runs of plans or jobs on cron lines.
    public var schedules: [ScheduleDefinition] = []
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
    /// The `api_key_file` setting, for `check-config` (a credential or nothing may have been used instead).
    public var apiKeyFile: String?

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

    /// The effective settings as TOML-like lines, secrets redacted: what `check-config` prints. Every key of
    /// ``ConfigKeys/all`` in its order, tables apart, each shown by the key itself; then each webhook.
    /// The keys whose effective value differs in `other` (`table.key`, in the schema's order; `webhooks` when any
    /// endpoint differs). Secrets compare by value, though the summary never shows them.
    func changedKeys(to other: DaemonConfiguration) -> [String] {
        var changed = ConfigKeys.all.filter { $0.shown(self) != $0.shown(other) }.map { "\($0.table).\($0.name)" }
        if kinsta.apiKey != other.kinsta.apiKey && !changed.contains("kinsta.api_key") {
            changed.append("kinsta.api_key")
        }
        if webhooks != other.webhooks { changed.append("webhooks") }
        if schedules != other.schedules { changed.append("schedules") }
        return changed
    }

    public var redactedSummary: String {
        var lines: [String] = []
        var table: String?
        for key in ConfigKeys.all {
            if key.table != table {
                lines += (table == nil ? [] : [""]) + ["[\(key.table)]"]
                table = key.table
            }
            lines.append(key.shown(self).line(key.name))
        }
        for endpoint in webhooks {
            lines +=
                ["", "[[webhooks]]"]
                + ConfigKeys.webhookKeys.filter(\.shownInSummary).map { $0.shown(endpoint).line($0.name) }
        }
        for schedule in schedules {
            lines += ["", "[[schedules]]"] + schedule.summaryLines
        }
        return lines.joined(separator: "\n")
    }
}
