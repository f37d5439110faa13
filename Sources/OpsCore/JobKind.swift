/// The kinds of Kinsta action the daemon carries to their end.
///
/// Each kind is described by a ``JobKindSpec`` in ``JobKind/spec``: its parameters, the Kinsta call it makes, the
/// target it occupies and how a crash around its submission is settled. Adding a kind is adding a case and a spec.
public enum JobKind: String, Sendable, Codable, CaseIterable, Hashable {
    case siteCreate = "site.create"
    case siteCreatePlain = "site.create_plain"
    case siteClone = "site.clone"
    case siteDelete = "site.delete"
    case backupRestore = "backup.restore"

    /// The declarative description of this kind.
    public var spec: JobKindSpec {
        switch self {
        case .siteCreate: .siteCreate
        case .siteCreatePlain: .siteCreatePlain
        case .siteClone: .siteClone
        case .siteDelete: .siteDelete
        case .backupRestore: .backupRestore
        }
    }
}

/// How a kind's outcome can be read back from Kinsta's resources when `/operations` cannot tell (after a crash between
/// the POST and its commit, or after a 404 that outlasts the start-up window).
public enum ReconcileStrategy: Sendable, Hashable {
    /// The job creates a site named by `display_name`: list the company's sites and look for it.
    case siteNamed(param: String)
    /// The job deletes the site `site_id`: `GET /sites/{id}` answering 404 means it is gone.
    case siteGone(param: String)
    /// Nothing readable shows the effect (a restore leaves no trace in the API): an admin must decide.
    case none

    /// Whether the check reads the job's target itself, so "not found" there is an answer (the site is gone).
    public var readsTarget: Bool {
        if case .siteGone = self { return true }
        return false
    }

    /// Whether a read can settle the job at all (a restore's cannot).
    public var canRead: Bool { self != .none }
}

/// One kind's contract: parameters, Kinsta call, target and reconciliation.
public struct JobKindSpec: Sendable {
    public var parameters: [ParamSpec]
    /// HTTP method of the submit call.
    public var method: String
    /// Path template relative to the API base, `{name}` standing for a parameter (percent-encoded when filled in).
    public var pathTemplate: String
    /// Parameters that go into the path, not the JSON body.
    public var pathParameters: Set<String> { Set(parameters.map(\.name).filter { pathTemplate.contains("{\($0)}") }) }
    /// Builds the key of what the job occupies; two jobs with the same key are never in flight together.
    public var target: @Sendable ([String: JSONValue]) -> String
    public var reconcile: ReconcileStrategy
    /// A repeated submit cannot create anything twice (deleting an already deleted site), so an unclear submission
    /// whose effect is not visible yet may be sent again.
    public var resubmitIsHarmless: Bool
    /// Default time from the start of an attempt to `timed_out`, in seconds.
    public var defaultDeadline: Int
    /// Seconds from acceptance within which an operation of this kind typically ends: the adaptive poll schedule's
    /// prior until Kinsta has shown how long it really takes (docs/kinsta-api.md, "Typical durations": site creation
    /// "around one to a few minutes").
    public var typicalDuration: ClosedRange<Double>
    /// Seconds after a submission whose answer was unclear by which Kinsta shows what it did (a create's site is in
    /// the sites list once its operation ends): a read that still finds nothing then means nothing was done, and the
    /// job is sent again. Twice the longest typical duration; `[settle_grace]` in the configuration overrides it.
    public var settleGrace: Double { 2 * typicalDuration.upperBound }
    /// Extra cross-parameter rule, run after each parameter is valid on its own.
    public var check: @Sendable ([String: JSONValue]) throws(ValidationError) -> Void
}

extension JobKindSpec {
    private static let company = ParamSpec(
        "company",
        .identifier,
        required: true,
        defaultsToCompany: true,
        help: "Kinsta company ID (defaults to the configured company)"
    )
    private static let displayName = ParamSpec(
        "display_name",
        .text,
        required: true,
        help: "Name of the new site as shown in MyKinsta"
    )
    private static let region = ParamSpec(
        "region",
        .identifier,
        required: true,
        help: "Data center, e.g. us-central1"
    )

    static let siteCreate = JobKindSpec(
        parameters: [
            company, displayName, region,
            ParamSpec("admin_email", .email, required: true, help: "WordPress admin e-mail"),
            ParamSpec("admin_password", .text, required: true, secret: true, help: "WordPress admin password (secret)"),
            ParamSpec("admin_user", .text, required: true, help: "WordPress admin user name"),
            ParamSpec("site_title", .text, required: true, help: "WordPress site title"),
            ParamSpec("wp_language", .identifier, required: true, default: "en_US", help: "WordPress language"),
            ParamSpec("is_multisite", .boolean, help: "Install WordPress multisite"),
            ParamSpec("is_subdomain_multisite", .boolean, help: "Multisite on subdomains"),
            ParamSpec("woocommerce", .boolean, help: "Install WooCommerce"),
            ParamSpec("wordpressseo", .boolean, help: "Install Yoast SEO"),
            ParamSpec("install_mode", .oneOf(["new", "plain"]), default: "new", help: "new (WordPress) or plain"),
        ],
        method: "POST",
        pathTemplate: "/sites",
        target: { "site-name:\($0["display_name"]?.stringValue ?? "")" },
        reconcile: .siteNamed(param: "display_name"),
        resubmitIsHarmless: false,
        defaultDeadline: 30 * 60,
        typicalDuration: 60...300,
        check: { params throws(ValidationError) in
            if params["is_subdomain_multisite"] == .bool(true), params["is_multisite"] != .bool(true) {
                throw ValidationError(field: "is_subdomain_multisite", "is_subdomain_multisite needs is_multisite")
            }
        }
    )

    static let siteCreatePlain = JobKindSpec(
        parameters: [company, displayName, region],
        method: "POST",
        pathTemplate: "/sites/plain",
        target: { "site-name:\($0["display_name"]?.stringValue ?? "")" },
        reconcile: .siteNamed(param: "display_name"),
        resubmitIsHarmless: false,
        defaultDeadline: 30 * 60,
        typicalDuration: 30...120,
        check: { _ throws(ValidationError) in }
    )

    static let siteClone = JobKindSpec(
        parameters: [
            company, displayName,
            ParamSpec("source_env_id", .identifier, required: true, help: "Environment to clone"),
        ],
        method: "POST",
        pathTemplate: "/sites/clone",
        target: { "site-name:\($0["display_name"]?.stringValue ?? "")" },
        reconcile: .siteNamed(param: "display_name"),
        resubmitIsHarmless: false,
        defaultDeadline: 30 * 60,
        typicalDuration: 120...480,
        check: { _ throws(ValidationError) in }
    )

    static let siteDelete = JobKindSpec(
        parameters: [ParamSpec("site_id", .identifier, required: true, help: "Site to delete")],
        method: "DELETE",
        pathTemplate: "/sites/{site_id}",
        target: { "site:\($0["site_id"]?.stringValue ?? "")" },
        reconcile: .siteGone(param: "site_id"),
        resubmitIsHarmless: true,
        defaultDeadline: 15 * 60,
        typicalDuration: 20...180,
        check: { _ throws(ValidationError) in }
    )

    static let backupRestore = JobKindSpec(
        parameters: [
            ParamSpec("target_env_id", .identifier, required: true, help: "Environment to restore into"),
            ParamSpec("backup_id", .integer, required: true, help: "Backup to restore (a number)"),
            ParamSpec("notified_user_id", .identifier, help: "User Kinsta notifies (current API)"),
            ParamSpec("env_display_name_of_backup", .text, help: "Environment name of the backup (older API)"),
        ],
        method: "POST",
        pathTemplate: "/sites/environments/{target_env_id}/backups/restore",
        target: { "env:\($0["target_env_id"]?.stringValue ?? "")" },
        reconcile: .none,
        resubmitIsHarmless: false,
        defaultDeadline: 15 * 60,
        typicalDuration: 20...180,
        check: { params throws(ValidationError) in
            let current = params["notified_user_id"] != nil
            let older = params["env_display_name_of_backup"] != nil
            guard current != older else {
                throw ValidationError(
                    field: "notified_user_id",
                    "backup.restore needs exactly one of notified_user_id (current API) or env_display_name_of_backup"
                )
            }
        }
    )
}
