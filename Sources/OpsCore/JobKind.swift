#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One kind of Kinsta action the daemon carries to its end: a name from the catalog (``JobCatalog``).
///
/// A kind is its ``JobKindSpec``: adding a kind is adding one declaration to the catalog. Decoding or building a kind
/// from a name the catalog does not hold fails, so a stored or submitted kind is always one the daemon knows.
public struct JobKind: RawRepresentable, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard JobCatalog.index[rawValue] != nil else { return nil }
        self.rawValue = rawValue
    }

    /// A kind the catalog is known to hold (the names below); a misspelt one stops the process at first use.
    init(declared name: String) {
        precondition(JobCatalog.index[name] != nil, "\(name) is not in the catalog")
        rawValue = name
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let kind = JobKind(rawValue: name) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown kind \(name)")
            )
        }
        self = kind
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// Every kind, in the catalog's order.
    public static var allCases: [JobKind] { JobCatalog.kinds }

    /// The declarative description of this kind.
    public var spec: JobKindSpec { JobCatalog.index[rawValue]! }

    public var description: String { rawValue }

    // The original five, which code and tests name often.
    public static var siteCreate: JobKind { JobKind(declared: "site.create") }
    public static var siteCreatePlain: JobKind { JobKind(declared: "site.create_plain") }
    public static var siteClone: JobKind { JobKind(declared: "site.clone") }
    public static var siteDelete: JobKind { JobKind(declared: "site.delete") }
    public static var backupRestore: JobKind { JobKind(declared: "backup.restore") }
}

/// How a submission whose answer was unclear (a timeout, a reset, a 5xx, a crash between the POST and its commit), or
/// an operation that `/operations` no longer knows, is settled: by reading where Kinsta shows the effect, by sending
/// again when a repeat is harmless, or by an admin.
public enum SettleStrategy: Sendable, Hashable {
    /// The job creates a site named by the parameter: list the company's sites and look for it.
    case siteNamed(param: String)
    /// The job deletes the site the parameter names: `GET /sites/{id}` answering 404, confirmed by the company's
    /// sites list, means it is gone.
    case siteGone(param: String)
    /// The job creates an environment of the site `site` named `name`: list the site's environments and look for it.
    case environmentNamed(site: String, name: String)
    /// The job deletes the environment the parameter names: gone once its site's environments list lacks it.
    case environmentGone(param: String)
    /// The job takes a manual backup of the environment `environment`, tagged with the job
    /// (``JobKindSpec/backupTag(_:job:attempt:)``): list its backups and look for the tag.
    case backupTagged(environment: String, tag: String)
    /// The job adds the domain `name` to the environment `environment`: list its domains and look for the name.
    case domainNamed(environment: String, name: String)
    /// A repeat cannot do harm (a cache clear, setting a value again): when nothing tells, send it again.
    case resend
    /// Nothing readable shows the effect and a repeat could do harm: an admin decides. The text says what to check.
    case attention(String)

    /// Whether the read that settles the job also finds what it made (a new site, environment, backup or domain),
    /// so the same read completes its outputs after a finished poll.
    public var findsWhatItMade: Bool {
        switch self {
        case .siteNamed, .environmentNamed, .backupTagged, .domainNamed: true
        case .siteGone, .environmentGone, .resend, .attention: false
        }
    }

    /// Whether a read can settle the job at all.
    public var canRead: Bool {
        switch self {
        case .resend, .attention: false
        default: true
        }
    }

    /// The word `GET /v1/kinds` shows for it.
    public var summary: String {
        switch self {
        case .siteNamed(let param): "read: the company's sites, by \(param)"
        case .siteGone(let param): "read: the site \(param) is gone"
        case .environmentNamed(let site, let name): "read: the environments of \(site), by \(name)"
        case .environmentGone(let param): "read: the environment \(param) is gone"
        case .backupTagged(let environment, _): "read: the backups of \(environment), by the job's tag"
        case .domainNamed(let environment, let name): "read: the domains of \(environment), by \(name)"
        case .resend: "resend: a repeat is harmless"
        case .attention: "needs_attention: no read shows the effect"
        }
    }
}

/// Something a job occupies while in flight. Two jobs that share one are never in flight together; a site also
/// covers every environment it holds (the daemon learns which from Kinsta), so a site job and a job on one of its
/// environments never run together either.
public enum TargetSpec: Sendable, Hashable {
    /// The site the parameter names.
    case site(String)
    /// The environment the parameter names.
    case environment(String)
    /// The site a create will make, by the display name in the parameter (it has no ID yet).
    case siteNamed(String)
    /// Another resource, as `prefix:value` (a backup, a DNS domain, an SFTP account).
    case resource(prefix: String, param: String)

    /// The key of this target for the job's values, e.g. `site:…`, `env:…`.
    public func key(_ values: [String: JSONValue]) -> String {
        func value(_ name: String) -> String { values[name].map(JSONValue.plainText) ?? "" }
        switch self {
        case .site(let param): return "site:" + value(param)
        case .environment(let param): return "env:" + value(param)
        case .siteNamed(let param): return "site-name:" + value(param)
        case .resource(let prefix, let param): return prefix + ":" + value(param)
        }
    }

    /// The parameter it reads.
    public var param: String {
        switch self {
        case .site(let param), .environment(let param), .siteNamed(let param): param
        case .resource(_, let param): param
        }
    }

    /// How `GET /v1/kinds` shows it.
    public var summary: String {
        switch self {
        case .site(let param): "site:{\(param)}"
        case .environment(let param): "env:{\(param)}"
        case .siteNamed(let param): "site-name:{\(param)}"
        case .resource(let prefix, let param): "\(prefix):{\(param)}"
        }
    }
}

/// One thing a succeeded job learned, under a stable name (`site_id`, `env_id`, `backup_id`).
public struct OutputSpec: Sendable, Hashable {
    public var name: String
    /// Keys of Kinsta's result data (or of what a settling read found) that hold it, first found wins.
    public var keys: [String]
    /// The parameter whose value it is, for an output that names what the job acted on (the environment a push
    /// changed): a later step can then take it as it takes what Kinsta made.
    public var param: String?
    public var help: String

    public init(_ name: String, from keys: [String], help: String) {
        self.name = name
        self.keys = keys
        self.help = help
    }

    public init(_ name: String, param: String, help: String) {
        self.name = name
        self.keys = []
        self.param = param
        self.help = help
    }
}

/// What the configuration fills in or decides for parameters (``ParamSpec/configured``, the restore body).
public struct ParamDefaults: Sendable, Hashable {
    public var company: String?
    /// `[kinsta] notified_user_id`: the user Kinsta notifies of a restore.
    public var notifiedUserID: String?
    /// `[kinsta] restore_body = "legacy"`: a restore sends `env_display_name_of_backup`, the older body.
    public var legacyRestoreBody: Bool

    public init(company: String? = nil, notifiedUserID: String? = nil, legacyRestoreBody: Bool = false) {
        self.company = company
        self.notifiedUserID = notifiedUserID
        self.legacyRestoreBody = legacyRestoreBody
    }
}

/// One kind's contract: its parameters, the Kinsta call, what it occupies, what it learns and how it is settled.
public struct JobKindSpec: Sendable {
    /// `noun.verb`, e.g. `site.create`, `cache.clear`.
    public var name: String
    /// One line for `kinsta-ops kinds` and `submit KIND --help`.
    public var summary: String
    public var parameters: [ParamSpec]
    /// HTTP method of the submit call.
    public var method: String
    /// Path template relative to the API base, `{name}` standing for a parameter (percent-encoded when filled in).
    public var pathTemplate: String
    /// The HTTP status Kinsta answers with the operation ID: 202, or 200 for the few that do (bulk updates, adding an
    /// SFTP account). Any 2xx with an operation ID is taken; this documents the catalog.
    public var acceptedStatus: Int
    public var targets: [TargetSpec]
    public var outputs: [OutputSpec]
    public var settle: SettleStrategy
    /// A repeated submit cannot do harm (deleting what is already deleted, clearing a cache twice), so an unclear
    /// submission whose effect is not visible may be sent again.
    public var resubmitIsHarmless: Bool
    /// Default time from the start of an attempt to `timed_out`, in seconds.
    public var defaultDeadline: Int
    /// Seconds from acceptance within which an operation of this kind typically ends: the adaptive poll schedule's
    /// prior until Kinsta has shown how long it really takes (docs/kinsta-api.md, "Typical durations").
    public var typicalDuration: ClosedRange<Double>
    /// The parameter that names what the job is about, for tables and chat messages (`display_name`, `site_id`).
    public var subject: String
    /// Extra cross-parameter rule, run after each parameter is valid on its own.
    public var check: @Sendable ([String: JSONValue], ParamDefaults) throws(ValidationError) -> Void

    public init(
        _ name: String,
        _ summary: String,
        parameters: [ParamSpec],
        call method: String,
        _ pathTemplate: String,
        acceptedStatus: Int = 202,
        targets: [TargetSpec],
        outputs: [OutputSpec] = [],
        settle: SettleStrategy,
        resubmitIsHarmless: Bool? = nil,
        deadline: Int,
        typical: ClosedRange<Double>,
        subject: String? = nil,
        check: @escaping @Sendable ([String: JSONValue], ParamDefaults) throws(ValidationError) -> Void = { _, _ in }
    ) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.method = method
        self.pathTemplate = pathTemplate
        self.acceptedStatus = acceptedStatus
        self.targets = targets
        self.outputs = outputs
        self.settle = settle
        self.resubmitIsHarmless = resubmitIsHarmless ?? (settle == .resend)
        self.defaultDeadline = deadline
        self.typicalDuration = typical
        self.subject = subject ?? targets.first?.param ?? parameters.first?.name ?? name
        self.check = check
    }

    /// Parameters that go into the path, not the JSON body.
    public var pathParameters: Set<String> { Set(parameters.map(\.name).filter { pathTemplate.contains("{\($0)}") }) }

    /// Seconds after a submission whose answer was unclear by which Kinsta shows what it did: a read that still finds
    /// nothing then means nothing was done, and the job is sent again. Twice the longest typical duration;
    /// `[settle_grace]` in the configuration overrides it.
    public var settleGrace: Double { 2 * typicalDuration.upperBound }

    /// The tag a manual backup is sent with: the caller's tag, marked with the job and attempt so that a read can
    /// find the backup this attempt made (``SettleStrategy/backupTagged(environment:tag:)``).
    public static func backupTag(_ tag: String?, job: Int64, attempt: Int) -> String {
        let mark = "kinsta-opsd job \(job)/\(attempt)"
        guard let tag, !tag.isEmpty else { return mark }
        return "\(tag) (\(mark))"
    }

    /// The outputs a job learned, from Kinsta's result data and what settling reads found.
    public func outputs(from result: JSONValue?, params: [String: JSONValue] = [:]) -> [String: JSONValue] {
        var found: [String: JSONValue] = [:]
        for output in outputs {
            if let param = output.param {
                if let value = params[param], value != .null { found[output.name] = value }
            } else if case .object(let data)? = result,
                let value = output.keys.lazy.compactMap({ data[$0] }).first(where: { $0 != .null })
            {
                found[output.name] = value
            }
        }
        return found
    }
}

extension JSONValue {
    /// A scalar as plain text (`"abc"` → `abc`, `12` → `12`), other values as compact JSON: how a value reads in a
    /// path, a table or a help text.
    public static func plainText(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .integer(let number): String(number)
        case .number(let number):
            // As JSON writes it: 480, not 480.0.
            number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): String(flag)
        default: String(decoding: (try? CanonicalJSON.encoder().encode(value)) ?? Data(), as: UTF8.self)
        }
    }
}
