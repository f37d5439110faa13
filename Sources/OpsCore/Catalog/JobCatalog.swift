/// Every kind the daemon carries: one ``JobKindSpec`` each, grouped by what they act on. Everything else (validation,
/// CLI flags and help, `GET /v1/kinds`, per-kind deadlines in the configuration, secrets to mask, the chat subject)
/// follows from these declarations.
///
/// The calls are Kinsta's 37 write endpoints that answer with an operation ID (docs/kinsta-api.md, "Write
/// endpoints").
public enum JobCatalog {
    /// Every declaration, in the order `kinsta-ops kinds` lists them.
    public static let specs: [JobKindSpec] =
        sites + environments + backups + tools + domains + wordPress

    /// Every kind, in catalog order.
    public static let kinds: [JobKind] = specs.map { JobKind(unchecked: $0.name) }

    /// Declarations by name.
    static let index: [String: JobKindSpec] = {
        var index: [String: JobKindSpec] = [:]
        for spec in specs {
            precondition(index[spec.name] == nil, "\(spec.name) is declared twice")
            index[spec.name] = spec
        }
        return index
    }()

    /// Names of every secret parameter of any kind: what a mask looks for by name in outside text.
    public static let secretParameterNames: [String] = Array(
        Set(specs.flatMap { $0.parameters.filter(\.secret).map(\.name) })
    ).sorted()
}

extension JobKind {
    /// For the catalog itself, which builds its kinds from the declarations it holds.
    init(unchecked name: String) { rawValue = name }
}

/// Parameters many kinds share, declared once.
enum CommonParams {
    static let company = ParamSpec(
        "company",
        .identifier,
        required: true,
        configured: .company,
        help: "Kinsta company ID (defaults to the configured company)"
    )
    static func displayName(_ what: String) -> ParamSpec {
        ParamSpec("display_name", .text, required: true, help: "Name of the new \(what) as shown in MyKinsta")
    }
    static let region = ParamSpec(
        "region",
        .identifier,
        required: true,
        help: "Data center, e.g. us-central1 (`kinsta-ops regions` lists them)"
    )
    static let siteID = ParamSpec("site_id", .identifier, required: true, help: "The site (its ID)")
    /// The environment a tool acts on, named as the tools' bodies name it.
    static let environmentID = ParamSpec(
        "environment_id",
        .identifier,
        required: true,
        help: "The environment (its ID)"
    )
    /// The environment in the path (`/sites/environments/{env_id}/…`).
    static let envID = ParamSpec("env_id", .identifier, required: true, help: "The environment (its ID)")
    static let adminEmail = ParamSpec("admin_email", .email, required: true, help: "WordPress admin e-mail")
    static let adminPassword = ParamSpec(
        "admin_password",
        .text,
        required: true,
        secret: true,
        help: "WordPress admin password (secret)"
    )
    static let adminUser = ParamSpec("admin_user", .text, required: true, help: "WordPress admin user name")
    static let siteTitle = ParamSpec("site_title", .text, required: true, help: "WordPress site title")
    static let wpLanguage = ParamSpec(
        "wp_language",
        .identifier,
        required: true,
        default: "en_US",
        help: "WordPress language"
    )
    static let isMultisite = ParamSpec("is_multisite", .boolean, help: "Install WordPress multisite")
    static let isSubdomainMultisite = ParamSpec("is_subdomain_multisite", .boolean, help: "Multisite on subdomains")
    static let woocommerce = ParamSpec("woocommerce", .boolean, help: "Install WooCommerce")
    static let wordpressSEO = ParamSpec("wordpressseo", .boolean, help: "Install Yoast SEO")
    static let isPremium = ParamSpec(
        "is_premium",
        .boolean,
        required: true,
        default: false,
        help: "A premium environment (billed)"
    )
    static let threadCount = ParamSpec("thread_count", .integer, required: true, help: "PHP threads")
    static let threadMemory = ParamSpec("thread_memory", .integer, required: true, help: "Memory per PHP thread, MB")

    /// `is_subdomain_multisite` only with `is_multisite`.
    @Sendable static func multisiteRule(_ values: [String: JSONValue], _: ParamDefaults) throws(ValidationError) {
        if values["is_subdomain_multisite"] == .bool(true), values["is_multisite"] != .bool(true) {
            throw ValidationError(field: "is_subdomain_multisite", "is_subdomain_multisite needs is_multisite")
        }
    }
}

/// Deadlines and typical durations, in seconds, by how long Kinsta's work takes (docs/kinsta-api.md, "Typical
/// durations": sites "one to a few minutes", tools "a few seconds to about a minute").
enum Timing {
    static let minute = 60
    /// Cache clears, PHP restarts, settings, DNS and SFTP changes.
    static let tool: ClosedRange<Double> = 3...60
    static let toolDeadline = 10 * minute
}
