import Foundation
import KinstaClient
import KinstaSimulator
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport

/// P6, "nightly": one plan of 300 manual backups (priority -5, as a nightly schedule would submit it) through the real
/// engine and store under the default request budget (60/min, burst 10), against a simulator that answers 429 past
/// 60 requests in any sliding minute, while urgent restores (priority 10) arrive every two minutes.
///
/// - The batch's **floor** is what its own requests cost under the budget: requests ÷ 60 per minute. Its
///   completion time (the plan's `created_at` to `finished_at`) is reported against it (goal ≤ 1.25 ×).
/// - An urgent restore's **wait** is from its submission to its POST reaching Kinsta, in budget tokens (one a
///   second at 60/min; goal ≤ 2), and how many requests of other jobs reached Kinsta in that time (those served
///   ahead of it; the rest of a wait is the budget's own spacing, which no order can shorten).
struct P6Nightly {
    let options: Bench.Options
    var count: Int { options.quick ? 100 : 300 }
    let perMinute = 60.0
    let burst = 10.0
    /// A restore every this many seconds, while the batch runs.
    let restoreEvery = 120.0

    func run() async throws {
        out("\nP6: a nightly plan of \(count) manual backups, budget \(Int(perMinute))/min, urgent restores ...")
        var rows: [[String]] = []
        for maxInFlight in [count, 8] {
            let wall = Date()
            let result = try await runEngine(maxInFlight: maxInFlight)
            let floorMinutes = Double(result.batchRequests) / perMinute
            let waits = result.restoreWaits
            let ahead = result.restoreAhead.map(Double.init)
            rows.append([
                maxInFlight == 8 ? "8 (the default)" : "\(maxInFlight) (the batch)", result.outcome,
                "\(result.batchRequests)", Format.number(floorMinutes, 1), Format.number(result.completion / 60, 1),
                Format.number(result.completion / 60 / floorMinutes, 2), "\(waits.count)",
                Format.number(Stats.percentile(waits, 50), 1), Format.number(waits.max() ?? .nan, 1),
                Format.number(ahead.max() ?? .nan, 0), "\(result.rateLimited)",
                Format.seconds(Date().timeIntervalSince(wall)),
            ])
        }
        Format.table(
            "P6 nightly (\(count) manual backups in one plan, priority -5; restores of priority 10 every "
                + "\(Int(restoreEvery)) s; \(Int(perMinute)) requests/min, burst \(Int(burst)))",
            [
                "max_in_flight", "plan", "batch requests", "floor (min)", "completed after (min)", "× floor",
                "restores", "restore wait p50 (tokens)", "max (tokens)", "requests ahead, max", "429s", "wall",
            ],
            rows,
            notes: [
                "targets: completion ≤ 1.25 × floor; restore wait ≤ 2 tokens (a token a second at 60/min)",
                "requests ahead: other jobs' requests that reached Kinsta between a restore's submission and its POST; "
                    + "the rest of its wait is the budget's spacing (at most 60 calls in any sliding minute)",
                "with max_in_flight 8 the batch runs 8 at a time and the budget left over goes to more polls of those "
                    + "8; the restores start in the urgent headroom (2 slots above max_in_flight for priority ≥ 5)",
                "batch requests: every request of the run but the restores' own submits and polls (the backups' "
                    + "submits, polls and the reads that find a backup's ID)",
            ]
        )
    }

    struct Result {
        var outcome: String
        var batchRequests: Int
        var completion: Double
        var restoreWaits: [Double]
        /// Per restore, the requests of other jobs that reached Kinsta between its submission and its POST.
        var restoreAhead: [Int]
        var rateLimited: Int
    }

    func runEngine(maxInFlight: Int) async throws -> Result {
        let configuration = SimulatorConfiguration(
            apiKey: Workload.apiKey,
            startupWindowMax: 15,
            failureRate: 0,
            seed: options.seed &+ 6,
            seedSites: count + 40,
            chaos: SimulatorChaos(rateLimitPerMinute: Int(perMinute)),
            durations: .kinstaLike(tailRate: Workload.tailRate)
        )
        let count = self.count
        let (perMinute, burst, restoreEvery) = (self.perMinute, self.burst, self.restoreEvery)
        let seed = options.seed
        return try await withEngineRig("bench-p6", simulator: configuration) { rig in
            let (clock, simulator, database) = (rig.clock, rig.simulator, rig.database)
            let budget = RequestBudget(ratePerMinute: perMinute, burst: burst, clock: clock)
            let engine = JobEngine(
                database: database,
                api: rig.api,
                policy: PollPolicy(),
                clock: clock,
                logger: rig.logger,
                // An agency running nightly batches lets them all be in flight (the budget bounds them), or keeps the
                // default.
                maxInFlight: maxInFlight,
                maxConcurrentRequests: 1,
                seed: seed,
                budget: budget
            )
            try await engine.recover()
            let inventory = simulator.inventory()
            let steps: [JSONValue] = (0..<count).map { index in
                [
                    "id": .string("backup-\(index)"), "kind": "backup.create",
                    "params": ["env_id": .string(inventory[index].environmentID), "tag": "nightly"],
                ]
            }
            let plan = try ValidatedPlan(
                json: ["name": "nightly", "priority": -5, "steps": .array(steps)],
                defaults: ParamDefaults(company: simulator.configuration.companyID)
            )
            let start = clock.now()
            guard
                case .created(let stored) = try await database.insertPlan(
                    NewPlan(plan: plan, submitter: nil, idempotencyKey: nil, schedule: "nightly"),
                    now: start
                )
            else { throw BenchError("the plan was not created") }
            // Restores on seed sites the batch does not touch, one every `restoreEvery` seconds while it runs.
            var restores: [Int64] = []
            // Per restore, how many requests the simulator had logged when it was stored.
            var loggedBefore: [Int64: Int] = [:]
            var nextRestore = start.addingTimeInterval(60)
            var end = start
            for _ in 0..<(24 * 60 * 4) {
                end = end.addingTimeInterval(15)
                if end >= nextRestore, restores.count < 40 {
                    let target = inventory[count + restores.count % 40]
                    let params = try ValidatedParams(
                        kind: .backupRestore,
                        raw: [
                            "target_env_id": .string(target.environmentID),
                            "backup_id": .integer(Int64(target.backupIDs[0])),
                            "notified_user_id": "6b1f7a36-0c1e-4b8e-9d35-1f2a3b4c5d6e",
                        ],
                        defaultCompany: simulator.configuration.companyID
                    )
                    try await engine.run(until: nextRestore, on: clock)
                    if case .created(let job) = try await database.insert(
                        NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil, priority: 10),
                        now: clock.now()
                    ) {
                        restores.append(job.id)
                        loggedBefore[job.id] = simulator.requestLog().count
                    }
                    nextRestore = nextRestore.addingTimeInterval(restoreEvery)
                }
                try await engine.run(until: end, on: clock)
                if try await database.plan(id: stored.id)?.finishedAt != nil {
                    // The batch is done: no more restores; stop once the last ones ended.
                    nextRestore = .distantFuture
                    if try await database.inFlightCount() == 0 { break }
                }
            }
            let finished = try await database.plan(id: stored.id)
            let log = simulator.requestLog()
            // Each restore's wait: its submission to its POST at Kinsta.
            var waits: [Double] = []
            var ahead: [Int] = []
            var restoreOperations: Set<String> = []
            for id in restores {
                guard let job = try await database.job(id: id) else { continue }
                if let operation = job.snapshot.operationID { restoreOperations.insert(operation) }
                guard
                    let sent = log.first(where: { $0.operationID != nil && $0.operationID == job.snapshot.operationID })
                else { continue }
                waits.append(sent.at.timeIntervalSince(job.createdAt) * perMinute / 60)
                if let first = loggedBefore[id], let last = log.firstIndex(where: { $0.seq == sent.seq }) {
                    ahead.append(max(0, last - first))
                }
            }
            let restoreRequests = log.filter { request in
                if let operation = request.operationID { return restoreOperations.contains(operation) }
                return restoreOperations.contains { request.path.hasSuffix("/operations/" + $0) }
            }.count
            return Result(
                outcome: finished?.state ?? "?",
                batchRequests: log.count - restoreRequests,
                completion: (finished?.finishedAt ?? clock.now()).timeIntervalSince(start),
                restoreWaits: waits,
                restoreAhead: ahead,
                rateLimited: log.filter { $0.status == 429 }.count
            )
        }
    }
}
