import CurlHTTP
import Foundation
import KinstaClient
import KinstaSimulator
import Logging
import OpsCore

/// The operations a scenario submits, and the simulator they meet: kinds mixed, durations Kinsta-like
/// (``SimulatedDurations/kinstaLike(tailRate:)``: log-normal within site create 1–5 min, plain 30 s–2 min,
/// clone 2–8 min, delete/restore 20 s–3 min, manual backup 30 s–3 min, tools 3 s–1 min, plus 3 % long tail up to 2.5 × the top), start-up window 0–15 s.
struct Workload {
    static let apiKey = "bench-key"
    static let tailRate = 0.03
    /// Share of each kind, in catalog order: the five original kinds, and the seeds' two tools and manual backups
    /// (tools "a few seconds to about a minute").
    static let mix: [(JobKind, Double)] = [
        (.siteCreate, 0.30), (.siteCreatePlain, 0.12), (.siteClone, 0.16), (.siteDelete, 0.12), (.backupRestore, 0.12),
        (JobKind(rawValue: "backup.create")!, 0.08), (JobKind(rawValue: "cache.clear")!, 0.06),
        (JobKind(rawValue: "php.restart")!, 0.04),
    ]

    let seed: UInt64
    let count: Int
    /// Multiplies every duration: a Kinsta faster (< 1) or slower (> 1) than the priors.
    var durationScale = 1.0
    /// From that operation on, that scale instead: a Kinsta that changed in the middle of the run.
    var durationShift: (afterOperations: Int, scale: Double)?

    func simulatorConfiguration(rateLimitPerMinute: Int = 0) -> SimulatorConfiguration {
        SimulatorConfiguration(
            apiKey: Self.apiKey,
            startupWindowMax: 15,
            durationScale: durationScale,
            failureRate: 0,
            seed: seed,
            seedSites: count / 2 + 50,
            chaos: SimulatorChaos(rateLimitPerMinute: rateLimitPerMinute),
            durations: .kinstaLike(tailRate: Self.tailRate),
            durationShift: durationShift
        )
    }

    /// The jobs, in submission order. Deletes take seed sites from the front (each once); clones and restores use
    /// the environments of the others (each restore its own environment, so no job waits for its target).
    func jobs(simulator: KinstaSimulator) throws -> [ValidatedParams] {
        let inventory = simulator.inventory()
        var rng = SplitMix64(seed: seed ^ 0xB5AD_4ECE_DA1C_E2A9)
        var nextDelete = 0
        var nextEnvironment = inventory.count - 1
        let company = simulator.configuration.companyID
        return try (0..<count).map { index in
            var draw = Double.random(in: 0..<1, using: &rng)
            var kind = JobKind.siteCreate
            for (candidate, share) in Self.mix {
                kind = candidate
                if draw < share { break }
                draw -= share
            }
            let name = JSONValue.string("bench-\(seed)-\(index)")
            let raw: [String: JSONValue]
            switch kind {
            case .siteCreate:
                raw = [
                    "display_name": name, "region": "us-central1", "admin_email": "admin@example.com",
                    "admin_password": .string("pw-\(index)-secret"), "admin_user": "admin", "site_title": name,
                ]
            case .siteCreatePlain:
                raw = ["display_name": name, "region": "us-central1"]
            case .siteClone:
                raw = [
                    "display_name": name,
                    "source_env_id": .string(inventory[inventory.count - 1 - index % 50].environmentID),
                ]
            case .siteDelete:
                raw = ["site_id": .string(inventory[nextDelete].siteID)]
                nextDelete += 1
            case .backupRestore:
                let target = inventory[nextEnvironment]
                nextEnvironment -= 1
                raw = [
                    "target_env_id": .string(target.environmentID), "backup_id": .integer(Int64(target.backupIDs[0])),
                    "notified_user_id": "6b1f7a36-0c1e-4b8e-9d35-1f2a3b4c5d6e",
                ]
            case _ where kind.rawValue == "backup.create":
                raw = ["env_id": .string(Self.middle(inventory, index, count: count).environmentID), "tag": name]
            case _ where kind.rawValue == "cache.clear" || kind.rawValue == "php.restart":
                raw = ["environment_id": .string(Self.middle(inventory, index, count: count).environmentID)]
            default:
                preconditionFailure("\(kind.rawValue) is not in the benchmark's mix")
            }
            return try ValidatedParams(kind: kind, raw: raw, defaultCompany: company)
        }
    }

    /// A seed site no delete, clone or restore uses (those take the front and the back of the inventory): where
    /// backups and tools run. Several share one, as an agency's jobs do; the engine runs them one at a time.
    static func middle(
        _ inventory: [(siteID: String, environmentID: String, backupIDs: [Int])],
        _ index: Int,
        count: Int
    ) -> (siteID: String, environmentID: String, backupIDs: [Int]) {
        // Deletes take about 12 % of `count` from the front, restores 12 % from the back, clones the last 50.
        let low = count * 16 / 100
        let span = max(1, inventory.count - 50 - count * 16 / 100 - low)
        return inventory[low + index % span]
    }

    static func api(base: String, http: CurlHTTPClient) -> HTTPKinstaAPI {
        var logger = Logger(label: "bench.kinsta")
        logger.logLevel = .critical
        return HTTPKinstaAPI(
            configuration: KinstaConfiguration(baseURL: base + "/", apiKey: apiKey, requestTimeout: .seconds(10)),
            http: http,
            logger: logger
        )
    }
}

/// What the simulator saw of each operation: requests to `/operations/{id}`, and the lag from its end to the first
/// poll that saw 200. Measured from the simulator's own log, the same way for every policy.
struct OperationOutcome {
    var kind: String
    var requests: Int
    /// `nil` when no poll ever saw it finished.
    var lag: Double?
    /// Seconds from creation (submit) to its end at Kinsta.
    var duration: Double
    var doneAt: Date
    var createdAt: Date
}

enum SimulatorLog {
    static func outcomes(_ simulator: KinstaSimulator) -> [OperationOutcome] {
        var polls: [String: (count: Int, firstDone: Date?)] = [:]
        for request in simulator.requestLog() where request.method == "GET" {
            guard let range = request.path.range(of: "/v2/operations/") else { continue }
            let id = String(request.path[range.upperBound...]).removingPercentEncoding ?? ""
            var entry = polls[id] ?? (0, nil)
            entry.count += 1
            if request.status == 200, entry.firstDone == nil { entry.firstDone = request.at }
            polls[id] = entry
        }
        return simulator.operations().map { operation in
            let entry = polls[operation.operationID] ?? (0, nil)
            return OperationOutcome(
                kind: operation.kind,
                requests: entry.count,
                lag: entry.firstDone.map { $0.timeIntervalSince(operation.doneAt) },
                duration: operation.doneAt.timeIntervalSince(operation.createdAt),
                doneAt: operation.doneAt,
                createdAt: operation.createdAt
            )
        }
    }

    static func count(_ simulator: KinstaSimulator, status: Int) -> Int {
        simulator.requestLog().filter { $0.status == status }.count
    }
}
