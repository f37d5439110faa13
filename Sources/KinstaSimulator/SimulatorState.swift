public import Foundation

/// A seeded generator of the simulator's own (it shares no code with the daemon).
struct SimRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed ^ 0x5DEE_CE66_D1A4_F87B }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * unit() }

    /// A lowercase 8-4-4-4-12 UUID drawn from the generator.
    mutating func uuid() -> String {
        let hex = String(format: "%016llx%016llx", next(), next())
        let chars = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(chars[$0]) }.joined(separator: "-")
    }
}

struct SimBackup {
    var id: Int
    var name: String
    var note: String
    var type: String
    var createdAt: Date
}

struct SimDownloadableBackup {
    var id: String
    var createdAt: Date
}

struct SimDomain {
    var id: String
    var name: String
    /// `kinsta` for the environment's own `*.kinsta.cloud` name, `custom` for one added.
    var type: String
}

/// A plugin or theme.
struct SimExtension {
    var name: String
    var title: String
    var status: String
    var version: String
    /// The version an update would bring, if any.
    var updateVersion: String?
}

struct SimSFTPAccount {
    var id: String
    var username: String
    var rootDirectory: String
    var permission: String
    var isActive: Bool
}

struct SimEnvironment {
    var id: String
    var name: String
    var displayName: String
    var isPremium = false
    var backups: [SimBackup]
    var downloadableBackups: [SimDownloadableBackup] = []
    var domains: [SimDomain] = []
    var primaryDomainID: String = ""
    var cdnCacheID: String = ""
    var edgeCacheID: String = ""
    var edgeCacheEnabled = true
    var isOptOutFromAutomaticPHPUpdate = false
    /// The web root's subfolder (`""` or e.g. `/release_v1`).
    var webRootSubfolder = ""
    var imageOptimization = "off"
    var sftpAccountsEnabled = true
    var sftpAccounts: [SimSFTPAccount] = []
    var wordpressVersion = "6.5.3"
    var containerID: String = ""
    var phpVersion = "8.2"
    var phpThreadCount = 2
    var phpThreadMemory = 256
    var plugins: [SimExtension] = []
    var themes: [SimExtension] = []
    /// WP-CLI commands run on it, in order (the only trace they leave).
    var wpCLICommands: [String] = []
}

struct SimSite {
    var id: String
    var name: String
    var displayName: String
    var environments: [SimEnvironment]
    var phpThreadCount = 2
    var phpThreadMemory = 256
}

struct SimUser {
    var id: String
    var email: String
    var fullName: String
}

struct SimDNSRecord: Equatable {
    var type: String
    var name: String
    var ttl: Double
    var values: [String]
}

struct SimDNSDomain {
    var id: String
    var name: String
    var siteID: String?
    var records: [SimDNSRecord]
}

/// What an operation occupies: nothing (a new site, a DNS change), a whole site, or some of a site's environments.
enum SimScope: Sendable, Equatable {
    case none
    case site(String)
    case environments(site: String, [String])

    var siteID: String? {
        switch self {
        case .none: nil
        case .site(let id), .environments(let id, _): id
        }
    }

    /// Whether two operations may not run at once: the same site, and one of them holds all of it or both hold an
    /// environment in common.
    func collides(with other: SimScope) -> Bool {
        switch (self, other) {
        case (.none, _), (_, .none): false
        case (.site(let a), _): a == other.siteID
        case (_, .site(let b)): siteID == b
        case (.environments(let a, let left), .environments(let b, let right)):
            a == b && !Set(left).isDisjoint(with: right)
        }
    }
}

/// What an operation changes once it succeeds; it may name the site it made.
typealias SimEffect = @Sendable (inout SimulatorState, Date) -> String?

/// One operation: invisible (404) until `visibleAt`, running (202) until `doneAt`, then 200 or 500.
struct SimOperation {
    var id: String
    /// The kind's name (`site.create`, `cache.clear`, …).
    var kind: String
    var createdAt: Date
    var visibleAt: Date
    var doneAt: Date
    var fails: Bool
    /// Site or environment the operation acts on (shown by `/_sim/operations`).
    var target: String?
    var displayName: String?
    var scope: SimScope = .none
    var effect: SimEffect?
    /// The site a create or clone makes, known once it is applied.
    var newSiteID: String?
    var applied = false

    func state(at now: Date) -> String {
        if now < visibleAt { return "invisible" }
        if now < doneAt { return "running" }
        return fails ? "failed" : "succeeded"
    }
}

/// What the simulator recorded of one request.
public struct SimulatedRequest: Sendable {
    public var seq: Int
    public var at: Date
    public var method: String
    /// The path as received (still percent-encoded), with the query.
    public var path: String
    public var status: Int
    /// The operation the request started, also when the answer did not show it (a 5xx after the work began, a page
    /// instead of the JSON).
    public var operationID: String?
    /// The JSON body with secrets (`admin_password`, `password`, …) redacted, as JSON text.
    public var body: String?
    /// The answer's body as sent (text).
    public var answer: String = ""
}

/// An operation as `/_sim/operations` shows it.
public struct SimulatedOperation: Sendable {
    public var operationID: String
    public var kind: String
    public var state: String
    public var target: String?
    public var displayName: String?
    /// When the submit that started it arrived.
    public var createdAt: Date
    public var visibleAt: Date
    public var doneAt: Date
}

/// All mutable state, behind the simulator's lock.
struct SimulatorState {
    var random: SimRandom
    /// Chaos draws come from here, so they never shift the ids and durations a seed gives.
    var chaosRandom: SimRandom
    /// Every id beyond a site's, its live environment's and an operation's (domains, users, staging environments, …)
    /// comes from here, so the ids and durations the seed gave before these existed stay as they were.
    var idRandom: SimRandom
    /// When recent `/v2` requests came, for the per-minute limit.
    var recentRequests: [Date] = []
    var sites: [SimSite] = []
    var users: [SimUser] = []
    var regions: [(region: String, name: String)] = []
    var dnsDomains: [SimDNSDomain] = []
    var operations: [String: SimOperation] = [:]
    var operationOrder: [String] = []
    /// Operations not yet applied, in order (after ``settle(now:)``: those still running or invisible).
    var pending: [String] = []
    var log: [SimulatedRequest] = []
    /// With `echoSecrets`: the submit request each operation came from (its `Authorization` and body), echoed back in
    /// the operation's answers.
    var echoes: [String: String] = [:]
    var nextBackupID = 1000
    /// When the API key stops working (`nil`: never).
    var keyExpiresAt: Date?
    var apiKeyID: String

    init(configuration: SimulatorConfiguration, now: Date) {
        random = SimRandom(seed: configuration.seed)
        chaosRandom = SimRandom(seed: configuration.seed &* 31 &+ 17)
        idRandom = SimRandom(seed: configuration.seed &* 0x9E37_79B9 &+ 101)
        apiKeyID = idRandom.uuid()
        keyExpiresAt =
            configuration.keyExpiresInDays > 0 ? now.addingTimeInterval(configuration.keyExpiresInDays * 86_400) : nil
        users = [
            SimUser(id: idRandom.uuid(), email: "owner@agency.example", fullName: "Olivia Owner"),
            SimUser(id: idRandom.uuid(), email: "dev@agency.example", fullName: "Devon Developer"),
        ]
        regions = configuration.regions.map { ($0, Self.regionName($0)) }
        for index in 0..<max(0, configuration.seedSites) {
            sites.append(makeSite(displayName: "Seed Site \(index + 1)", staging: true, now: now))
        }
        dnsDomains = [
            SimDNSDomain(
                id: idRandom.uuid(),
                name: "agency.example",
                siteID: sites.first?.id,
                records: [
                    SimDNSRecord(type: "A", name: "agency.example", ttl: 3600, values: ["203.0.113.10"]),
                    SimDNSRecord(type: "CNAME", name: "www.agency.example", ttl: 3600, values: ["agency.example"]),
                    SimDNSRecord(type: "TXT", name: "agency.example", ttl: 300, values: ["v=spf1 -all"]),
                ]
            )
        ]
    }

    static func regionName(_ region: String) -> String {
        let names = [
            "us-central1": "Iowa US (us-central1)", "europe-west1": "St. Ghislain BE (europe-west1)",
            "us-east1": "South Carolina US (us-east1)", "asia-southeast1": "Singapore SG (asia-southeast1)",
            "europe-west2": "London UK (europe-west2)",
        ]
        return names[region] ?? "\(region) (\(region))"
    }

    /// A site with a live environment (and, for a seed site, a staging one); the site's and live environment's ids
    /// come from the main generator, as they always have.
    mutating func makeSite(displayName: String, staging: Bool, now: Date) -> SimSite {
        let slug = Self.slug(displayName)
        let liveID = random.uuid()
        let siteID = random.uuid()
        var environments = [makeEnvironment(id: liveID, name: "live", displayName: "Live", site: slug, now: now)]
        if staging {
            environments.append(
                makeEnvironment(id: idRandom.uuid(), name: "staging", displayName: "Staging", site: slug, now: now)
            )
        }
        return SimSite(id: siteID, name: slug, displayName: displayName, environments: environments)
    }

    /// An environment with 2 daily and 1 manual backup, a downloadable backup, 2 domains (the first primary), CDN and
    /// edge cache ids, plugins, themes and one additional SFTP account.
    mutating func makeEnvironment(
        id: String,
        name: String,
        displayName: String,
        site: String,
        now: Date
    )
        -> SimEnvironment
    {
        var environment = SimEnvironment(
            id: id,
            name: name,
            displayName: displayName,
            backups: seedBackups(now: now)
        )
        seedContent(&environment, site: site, now: now)
        return environment
    }

    mutating func seedBackups(now: Date) -> [SimBackup] {
        var backups: [SimBackup] = []
        for (offset, type) in ["daily", "daily", "manual"].enumerated() {
            nextBackupID += 1
            backups.append(
                SimBackup(
                    id: nextBackupID,
                    name: "\(type) backup \(offset + 1)",
                    note: type == "manual" ? "before update" : "",
                    type: type,
                    createdAt: now.addingTimeInterval(-Double(86_400 * (3 - offset)))
                )
            )
        }
        return backups
    }

    mutating func seedContent(_ environment: inout SimEnvironment, site: String, now: Date) {
        let host = environment.name == "live" ? site : "\(environment.name)-\(site)"
        environment.downloadableBackups = [SimDownloadableBackup(id: idRandom.uuid(), createdAt: now - 3600)]
        environment.domains = [
            SimDomain(id: idRandom.uuid(), name: "\(host).kinsta.cloud", type: "kinsta"),
            SimDomain(id: idRandom.uuid(), name: "\(host).agency.example", type: "custom"),
        ]
        environment.primaryDomainID = environment.domains[0].id
        environment.cdnCacheID = idRandom.uuid()
        environment.edgeCacheID = idRandom.uuid()
        environment.containerID = idRandom.uuid()
        environment.plugins = [
            SimExtension(
                name: "akismet",
                title: "Akismet Anti-spam",
                status: "active",
                version: "5.2",
                updateVersion: "5.3"
            ),
            SimExtension(
                name: "wordpress-seo",
                title: "Yoast SEO",
                status: "active",
                version: "22.0",
                updateVersion: "22.6"
            ),
            SimExtension(
                name: "hello-dolly",
                title: "Hello Dolly",
                status: "inactive",
                version: "1.7.2",
                updateVersion: nil
            ),
        ]
        environment.themes = [
            SimExtension(
                name: "twentytwentyfour",
                title: "Twenty Twenty-Four",
                status: "active",
                version: "1.0",
                updateVersion: "1.1"
            ),
            SimExtension(
                name: "twentytwentythree",
                title: "Twenty Twenty-Three",
                status: "inactive",
                version: "1.3",
                updateVersion: nil
            ),
        ]
        environment.sftpAccounts = [
            SimSFTPAccount(
                id: idRandom.uuid(),
                username: "\(host)-deploy",
                rootDirectory: "/",
                permission: "write",
                isActive: true
            )
        ]
    }

    static func slug(_ displayName: String) -> String {
        String(displayName.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    /// Applies the effects of operations that completed by `now`.
    mutating func settle(now: Date) {
        var still: [String] = []
        for id in pending {
            guard var operation = operations[id], !operation.applied else { continue }
            guard operation.doneAt <= now else {
                still.append(id)
                continue
            }
            operation.applied = true
            if !operation.fails, let effect = operation.effect {
                operation.newSiteID = effect(&self, operation.doneAt)
            }
            operations[id] = operation
        }
        pending = still
    }

    func environment(_ id: String) -> SimEnvironment? {
        sites.lazy.flatMap(\.environments).first { $0.id == id }
    }

    /// The site that holds environment `id`.
    func site(ofEnvironment id: String) -> SimSite? {
        sites.first { $0.environments.contains { $0.id == id } }
    }

    func site(_ id: String) -> SimSite? { sites.first { $0.id == id } }

    /// Changes environment `id` in place (nothing when it is gone).
    mutating func updateEnvironment(_ id: String, _ change: (inout SimEnvironment) -> Void) {
        for s in sites.indices {
            if let e = sites[s].environments.firstIndex(where: { $0.id == id }) {
                change(&sites[s].environments[e])
                return
            }
        }
    }

    mutating func updateSite(_ id: String, _ change: (inout SimSite) -> Void) {
        if let index = sites.firstIndex(where: { $0.id == id }) { change(&sites[index]) }
    }

    /// Whether an operation still runs on environment `id` or on all of its site (what `is_blocked` shows).
    func isBlocked(environment id: String, site: String, now: Date) -> Bool {
        let scope = SimScope.environments(site: site, [id])
        return pending.contains { id in
            operations[id].map { $0.doneAt > now && $0.visibleAt <= now && $0.scope.collides(with: scope) } ?? false
        }
    }
}
