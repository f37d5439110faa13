public import Foundation
public import OpsCore

/// The Kinsta API as the engine needs it. Answers are values the core understands; implementations never retry or
/// loop: the state machine decides what happens next.
public protocol KinstaAPI: Sendable {
    /// Sends a job's submit call (`POST /sites`, `DELETE /sites/{id}`, …).
    func submit(_ call: KinstaCall) async -> SubmitOutcome
    /// `GET /operations/{id}`.
    func operationStatus(_ operationID: String) async -> PollOutcome
    /// `GET` of a read endpoint (`/sites?company=…`, `/sites/{id}`, …): the parsed JSON body or why not.
    func read(_ path: String) async -> KinstaRead
}

/// The answer of a read endpoint.
public enum KinstaRead: Sendable, Hashable {
    /// 200 with a JSON body.
    case ok(JSONValue)
    /// 404: the thing does not exist (or the key may not see it; Kinsta does not tell the two apart).
    case notFound(message: String)
    /// Anything else.
    case failure(KinstaReadFailure)
}

/// Why a read gave no data.
public struct KinstaReadFailure: Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status, when an answer came.
    public var status: Int?
    /// Kinsta's message, or what went wrong on the way.
    public var message: String
    /// Seconds Kinsta asked to wait (429 `Retry-After`).
    public var retryAfter: Double?
    /// Whether asking again later may succeed (429, 5xx, timeouts, unreadable bodies) rather than never (400, 401).
    public var isTransient: Bool

    public init(status: Int?, message: String, retryAfter: Double? = nil, isTransient: Bool) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.isTransient = isTransient
    }

    public var description: String {
        status.map { "Kinsta answered HTTP \($0): \(message)" } ?? message
    }
}

// MARK: - Typed reads

/// A site as the reads that settle jobs see it.
public struct KinstaSite: Sendable, Hashable {
    public var id: String
    public var displayName: String?

    public init(id: String, displayName: String?) {
        self.id = id
        self.displayName = displayName
    }
}

/// An environment as the reads that settle jobs see it.
public struct KinstaEnvironment: Sendable, Hashable {
    public var id: String
    /// `live`, `staging`, …
    public var name: String?
    public var displayName: String?

    public init(id: String, name: String? = nil, displayName: String?) {
        self.id = id
        self.name = name
        self.displayName = displayName
    }
}

/// A backup of an environment: `id` is a number, `note` holds a manual backup's tag.
public struct KinstaBackup: Sendable, Hashable {
    public var id: Int64
    public var note: String?
    public var type: String?

    public init(id: Int64, note: String?, type: String?) {
        self.id = id
        self.note = note
        self.type = type
    }
}

/// A domain of an environment.
public struct KinstaDomain: Sendable, Hashable {
    public var id: String
    public var name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// A user of the company: the `id` (a UUID) is what `backup.restore` takes as `notified_user_id`.
public struct KinstaUser: Sendable, Hashable {
    public var id: String
    public var email: String?
    public var fullName: String?

    public init(id: String, email: String?, fullName: String?) {
        self.id = id
        self.email = email
        self.fullName = fullName
    }
}

/// A region a site can be created in: `region` is what `site.create` sends (`us-central1`), `name` the label
/// (`Iowa US (us-central1)`).
public struct KinstaRegion: Sendable, Hashable {
    public var region: String
    public var name: String?

    public init(region: String, name: String?) {
        self.region = region
        self.name = name
    }
}

/// What `GET /validate` tells of the API key in use.
public struct KinstaAPIKey: Sendable, Hashable {
    public var name: String?
    /// `nil`: the key never expires (Kinsta answers `expires_at: null`).
    public var expiresAt: Date?
    public var company: String?
    /// `active`, `expired`, … as Kinsta words it.
    public var status: String?

    public init(name: String?, expiresAt: Date?, company: String?, status: String?) {
        self.name = name
        self.expiresAt = expiresAt
        self.company = company
        self.status = status
    }

    /// `expires_at` as Kinsta writes it: the OpenAPI file's example is milliseconds since 1970 in a string
    /// (`"1704081600000"`); a number of milliseconds and an ISO 8601 time (UTC when it names no zone) are read too.
    /// `nil` when it is none of these.
    public static func expiry(_ value: JSONValue) -> Date? {
        func fromMilliseconds(_ ms: Double) -> Date? {
            ms.isFinite && ms > 0 ? Date(timeIntervalSince1970: ms / 1000) : nil
        }
        switch value {
        case .integer(let ms): return fromMilliseconds(Double(ms))
        case .number(let ms): return fromMilliseconds(ms)
        case .string(let text):
            if let ms = Double(text), text.allSatisfy({ $0.isASCII && $0.isNumber }) { return fromMilliseconds(ms) }
            // A time without a zone (the simulator writes one) is UTC.
            let hasZone = text.hasSuffix("Z") || text.suffix(6).contains("+") || text.suffix(6).contains("-")
            for candidate in hasZone ? [text] : [text, text + "Z"] {
                if let date = try? Date(candidate, strategy: .iso8601) { return date }
                let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
                if let date = try? fractional.parse(candidate) { return date }
            }
            return nil
        default: return nil
        }
    }
}

/// What a typed read found.
public enum KinstaLookup<Value: Sendable & Hashable>: Sendable, Hashable {
    case found(Value)
    /// 404: not there, or the key may not read it (Kinsta does not tell the two apart).
    case notFound(message: String)
    /// 200 with a body of another shape than documented.
    case unreadable(String)
    case failure(KinstaReadFailure)
}

extension KinstaAPI {
    /// The company's sites: `GET /sites?company=…`, `company.sites[]` with `id` and `display_name`.
    public func sites(ofCompany company: String) async -> KinstaLookup<[KinstaSite]> {
        switch await read("/sites?company=" + KinstaCall.percentEncodePathSegment(company)) {
        case .ok(let body):
            guard case .array(let list)? = body["company"]?["sites"] else {
                return .unreadable("the sites list had an unexpected shape")
            }
            return .found(
                list.compactMap { site in
                    site["id"]?.stringValue.map { KinstaSite(id: $0, displayName: site["display_name"]?.stringValue) }
                }
            )
        case .notFound(let message): return .notFound(message: message)
        case .failure(let failure): return .failure(failure)
        }
    }

    /// Which site each of the company's environments belongs to: `GET /sites?company=…&include_environments=true`,
    /// `company.sites[].environments[].id`.
    public func environmentSites(ofCompany company: String) async -> KinstaLookup<[String: String]> {
        let path = "/sites?company=" + KinstaCall.percentEncodePathSegment(company) + "&include_environments=true"
        return Self.lookup(await read(path)) { body in
            guard case .array(let sites)? = body["company"]?["sites"] else { return nil }
            var map: [String: String] = [:]
            for site in sites {
                guard let siteID = site["id"]?.stringValue, case .array(let environments)? = site["environments"]
                else { continue }
                for environment in environments {
                    if let id = environment["id"]?.stringValue { map[id] = siteID }
                }
            }
            return map
        }
    }

    /// A site's environments: `GET /sites/{id}/environments`, `site.environments[]`.
    public func environments(ofSite site: String) async -> KinstaLookup<[KinstaEnvironment]> {
        Self.lookup(await read("/sites/" + KinstaCall.percentEncodePathSegment(site) + "/environments")) { body in
            guard case .array(let list)? = body["site"]?["environments"] else { return nil }
            return list.compactMap { environment in
                environment["id"]?.stringValue.map {
                    KinstaEnvironment(
                        id: $0,
                        name: environment["name"]?.stringValue,
                        displayName: environment["display_name"]?.stringValue
                    )
                }
            }
        }
    }

    /// An environment's backups: `GET /sites/environments/{id}/backups`, `environment.backups[]`.
    public func backups(ofEnvironment environment: String) async -> KinstaLookup<[KinstaBackup]> {
        let path = "/sites/environments/" + KinstaCall.percentEncodePathSegment(environment) + "/backups"
        return Self.lookup(await read(path)) { body in
            guard case .array(let list)? = body["environment"]?["backups"] else { return nil }
            return list.compactMap { backup in
                let id: Int64?
                switch backup["id"] {
                case .integer(let number)?: id = number
                case .number(let number)? where number == number.rounded() && abs(number) < 9e15: id = Int64(number)
                default: id = nil
                }
                return id.map {
                    KinstaBackup(id: $0, note: backup["note"]?.stringValue, type: backup["type"]?.stringValue)
                }
            }
        }
    }

    /// An environment's domains: `GET /sites/environments/{id}/domains`, `environment.site_domains[]`.
    public func domains(ofEnvironment environment: String) async -> KinstaLookup<[KinstaDomain]> {
        let path = "/sites/environments/" + KinstaCall.percentEncodePathSegment(environment) + "/domains"
        return Self.lookup(await read(path)) { body in
            guard case .array(let list)? = body["environment"]?["site_domains"] else { return nil }
            return list.compactMap { domain in
                guard let id = domain["id"]?.stringValue, let name = domain["name"]?.stringValue else { return nil }
                return KinstaDomain(id: id, name: name)
            }
        }
    }

    /// The company's users: `GET /company/{id}/users`, `company.users[].user` with `id`, `email`, `full_name`.
    public func users(ofCompany company: String) async -> KinstaLookup<[KinstaUser]> {
        let path = "/company/" + KinstaCall.percentEncodePathSegment(company) + "/users"
        return Self.lookup(await read(path)) { body in
            guard case .array(let list)? = body["company"]?["users"] else { return nil }
            return list.compactMap { entry in
                let user = entry["user"]
                return user?["id"]?.stringValue.map {
                    KinstaUser(id: $0, email: user?["email"]?.stringValue, fullName: user?["full_name"]?.stringValue)
                }
            }
        }
    }

    /// The regions the company can create sites in: `GET /company/{id}/available-regions`,
    /// `company.available_regions[]` with `region` and `name`.
    public func regions(ofCompany company: String) async -> KinstaLookup<[KinstaRegion]> {
        let path = "/company/" + KinstaCall.percentEncodePathSegment(company) + "/available-regions"
        return Self.lookup(await read(path)) { body in
            guard case .array(let list)? = body["company"]?["available_regions"] else { return nil }
            return list.compactMap { entry in
                entry["region"]?.stringValue.map { KinstaRegion(region: $0, name: entry["name"]?.stringValue) }
            }
        }
    }

    /// The API key in use: `GET /validate`, `{name, expires_at, company, status}`. An `expires_at` that is neither
    /// `null` nor a time reads as a body of another shape.
    public func validateKey() async -> KinstaLookup<KinstaAPIKey> {
        Self.lookup(await read("/validate")) { body in
            guard case .object(let fields) = body, let rawExpiry = fields["expires_at"] else { return nil }
            let expiresAt: Date?
            if rawExpiry == .null {
                expiresAt = nil
            } else {
                guard let date = KinstaAPIKey.expiry(rawExpiry) else { return nil }
                expiresAt = date
            }
            return KinstaAPIKey(
                name: fields["name"]?.stringValue,
                expiresAt: expiresAt,
                company: fields["company"]?.stringValue,
                status: fields["status"]?.stringValue
            )
        }
    }

    /// Maps a read to a lookup, `parse` giving `nil` for a body of another shape than documented.
    static func lookup<Value>(_ answer: KinstaRead, _ parse: (JSONValue) -> Value?) -> KinstaLookup<Value> {
        switch answer {
        case .ok(let body):
            guard let value = parse(body) else { return .unreadable("the answer had an unexpected shape") }
            return .found(value)
        case .notFound(let message): return .notFound(message: message)
        case .failure(let failure): return .failure(failure)
        }
    }

    /// One site: `GET /sites/{id}`.
    public func site(_ id: String) async -> KinstaLookup<KinstaSite> {
        switch await read("/sites/" + KinstaCall.percentEncodePathSegment(id)) {
        case .ok(let body):
            return .found(KinstaSite(id: id, displayName: body["site"]?["display_name"]?.stringValue))
        case .notFound(let message): return .notFound(message: message)
        case .failure(let failure): return .failure(failure)
        }
    }
}
