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

struct SimEnvironment {
    var id: String
    var name: String
    var displayName: String
    var backups: [SimBackup]
}

struct SimSite {
    var id: String
    var name: String
    var displayName: String
    var environments: [SimEnvironment]
}

/// One operation: invisible (404) until `visibleAt`, running (202) until `doneAt`, then 200 or 500.
struct SimOperation {
    enum Kind: String {
        case siteCreate = "site.create"
        case sitePlain = "site.create_plain"
        case siteClone = "site.clone"
        case siteDelete = "site.delete"
        case backupRestore = "backup.restore"

        var prefix: String {
            switch self {
            case .siteCreate: "sites:add-"
            case .sitePlain: "sites:add-plain-"
            case .siteClone: "site:clone-"
            case .siteDelete: "sites:delete-"
            case .backupRestore: "backups:restore-"
            }
        }

        /// Unscaled duration range in seconds.
        var duration: ClosedRange<Double> {
            switch self {
            case .siteCreate: 60...300
            case .sitePlain: 30...120
            case .siteClone: 120...480
            case .siteDelete, .backupRestore: 20...180
            }
        }
    }

    var id: String
    var kind: Kind
    var createdAt: Date
    var visibleAt: Date
    var doneAt: Date
    var fails: Bool
    /// Site or environment the operation acts on.
    var target: String?
    var displayName: String?
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
    public var operationID: String?
    /// The JSON body with `admin_password` redacted, as JSON text.
    public var body: String?
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
    /// When recent `/v2` requests came, for the per-minute limit.
    var recentRequests: [Date] = []
    var sites: [SimSite] = []
    var operations: [String: SimOperation] = [:]
    var operationOrder: [String] = []
    var log: [SimulatedRequest] = []
    /// With `echoSecrets`: the submit request each operation came from (its `Authorization` and body), echoed back in
    /// the operation's answers.
    var echoes: [String: String] = [:]
    var nextBackupID = 1000

    init(configuration: SimulatorConfiguration, now: Date) {
        random = SimRandom(seed: configuration.seed)
        chaosRandom = SimRandom(seed: configuration.seed &* 31 &+ 17)
        for index in 0..<max(0, configuration.seedSites) {
            sites.append(makeSite(displayName: "Seed Site \(index + 1)", now: now))
        }
    }

    mutating func makeSite(displayName: String, now: Date) -> SimSite {
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
        let environment = SimEnvironment(id: random.uuid(), name: "live", displayName: "Live", backups: backups)
        let slug = displayName.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return SimSite(id: random.uuid(), name: String(slug), displayName: displayName, environments: [environment])
    }

    /// Applies the effects of operations that completed by `now`.
    mutating func settle(now: Date) {
        for id in operationOrder {
            guard var operation = operations[id], !operation.applied, operation.doneAt <= now else { continue }
            operation.applied = true
            if !operation.fails {
                switch operation.kind {
                case .siteCreate, .sitePlain, .siteClone:
                    let site = makeSite(displayName: operation.displayName ?? "site", now: operation.doneAt)
                    operation.newSiteID = site.id
                    sites.append(site)
                case .siteDelete:
                    sites.removeAll { $0.id == operation.target }
                case .backupRestore:
                    break
                }
            }
            operations[id] = operation
        }
    }

    func environment(_ id: String) -> SimEnvironment? {
        sites.lazy.flatMap(\.environments).first { $0.id == id }
    }
}
