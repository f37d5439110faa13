import CurlHTTP
import Foundation
import KinstaClient
import KinstaSimulator
import Logging
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport

/// P1: requests per operation and detection lag, for 1,000 operations arriving one every 10 s.
///
/// "ours" is the real daemon engine (JobEngine + OpsDatabase on disk + HTTPKinstaAPI over loopback HTTP) with the
/// adaptive policy, starting from the priors and learning from its own successes as the run proceeds; every
/// operation is counted (no separate warm-up), and a second row shows the operations after the first 200. The
/// peers run through the same simulator (same seed, same submissions at the same virtual times, so the same
/// operations) with a small driver loop over the same HTTP client.
struct P1PollEfficiency {
    let options: Bench.Options
    var count: Int { options.quick ? 300 : 1000 }
    let arrivalSpacing = 10.0

    enum Peer: String, CaseIterable {
        case terraform = "Terraform provider (2,4,8,15,30… s; errors 6×5 s)"
        case fixed3 = "fixed 3 s"
        case fixed2 = "fixed 2 s"
        case oracle = "oracle (one poll at completion)"
    }

    func run() async throws {
        let workload = Workload(seed: options.seed, count: count)
        out("\nP1: \(count) operations, one every \(Int(arrivalSpacing)) s (virtual) ...")
        let wall = Date()
        let ours = try await runOurs(workload)
        let oursWall = Date().timeIntervalSince(wall)
        var rows: [[String]] = []
        var tfRequests = Double.nan
        var tfLag = Double.nan
        var results: [(String, [OperationOutcome])] = [("ours: adaptive, real engine, all \(count) (cold start)", ours)]
        results.append(("ours: operations after the first 200", Array(ours.dropFirst(200))))
        for peer in Peer.allCases where !options.noVariants || peer == .terraform {
            results.append((peer.rawValue, try await runPeer(peer, workload)))
        }
        // Sensitivity: the same engine, the same operations, one setting changed from its default.
        let defaults = options.adaptive
        var variants: [(String, AdaptivePolling)] = []
        for tradeoff in [defaults.tradeoff * 0.8, defaults.tradeoff * 1.25] {
            var adaptive = defaults
            adaptive.tradeoff = tradeoff
            variants.append(
                ("tradeoff \(Format.number(tradeoff, 2)) instead of \(Format.number(defaults.tradeoff, 2))", adaptive)
            )
        }
        var hardCap = defaults
        hardCap.lateShare = 0
        variants.append(("hard \(Int(defaults.maxSpacing)) s cap: no late-share budget", hardCap))
        var earlier = defaults
        earlier.quietQuantile = 0.01
        variants.append(
            ("first poll at the 1 % quantile, not \(Format.number(defaults.quietQuantile * 100, 0)) %", earlier)
        )
        for (change, adaptive) in options.quick || options.noVariants ? [] : variants {
            results.append(("ours, \(change)", try await runOurs(workload, adaptive: adaptive)))
        }
        for (name, outcomes) in results {
            let requests = outcomes.map { Double($0.requests) }
            let lags = outcomes.compactMap(\.lag)
            let mean = Stats.mean(requests)
            let p50 = Stats.percentile(lags, 50)
            if name == Peer.terraform.rawValue { (tfRequests, tfLag) = (mean, p50) }
            rows.append([
                name, "\(lags.count)/\(outcomes.count)", Format.number(mean, 2),
                Format.number(Stats.percentile(requests, 99), 0), Format.number(p50),
                Format.number(Stats.percentile(lags, 99)),
                Format.number(lags.max() ?? .nan),
            ])
        }
        let oursRequests = Stats.mean(ours.map { Double($0.requests) })
        let oursLags = ours.compactMap(\.lag)
        Format.table(
            "P1 poll efficiency (\(count) operations; lag in seconds from Kinsta's end to the poll that saw 200)",
            ["policy", "tracked", "req/op mean", "req/op p99", "lag p50", "lag p99", "lag max"],
            rows,
            notes: [
                "ours/TF requests = \(Format.number(oursRequests / tfRequests, 2)) (target ≤ 0.8); "
                    + "ours/TF lag p50 = \(Format.number(Stats.percentile(oursLags, 50) / tfLag, 2)) (target ≤ 0.4); "
                    + "ours lag p99 = \(Format.number(Stats.percentile(oursLags, 99))) s (target ≤ 20)",
                "ours ran through the real engine in \(Format.seconds(oursWall)) of wall time for "
                    + "\(Format.number(Double(count) * arrivalSpacing / 3600, 2)) h of virtual time",
            ]
        )
    }

    // MARK: - Ours: the real engine

    func runOurs(_ workload: Workload, adaptive: AdaptivePolling? = nil) async throws -> [OperationOutcome] {
        let adaptive = adaptive ?? options.adaptive
        return try await withEngineRig("bench-p1", simulator: workload.simulatorConfiguration()) { rig in
            let (clock, simulator, database) = (rig.clock, rig.simulator, rig.database)
            let engine = JobEngine(
                database: database,
                api: rig.api,
                policy: PollPolicy(adaptive: adaptive),
                clock: clock,
                logger: rig.logger,
                maxInFlight: 10_000,
                // One call at a time: commits (and so the engine's random draws) come in the same order on every
                // run, and virtual time does not move during a call anyway.
                maxConcurrentRequests: 1,
                seed: workload.seed
            )
            try await engine.recover()
            let start = clock.now()
            for (index, params) in try workload.jobs(simulator: simulator).enumerated() {
                try await engine.run(until: start.addingTimeInterval(Double(index) * arrivalSpacing), on: clock)
                _ = try await database.insert(
                    NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                    now: clock.now()
                )
            }
            try await engine.run(until: clock.now().addingTimeInterval(4 * 3600), on: clock)
            let unfinished = try await database.inFlightCount()
            if unfinished > 0 { out("  warning: \(unfinished) jobs still in flight at the end") }
            return SimulatorLog.outcomes(simulator)
        }
    }

    // MARK: - Peers: a driver loop through the same simulator

    struct Tracked {
        var id: String
        var acceptedAt: Date
        var doneAt: Date?
        var step = 0
        var errors = 0
    }

    func runPeer(_ peer: Peer, _ workload: Workload) async throws -> [OperationOutcome] {
        let clock = ManualClock()
        let simulator = KinstaSimulator(configuration: workload.simulatorConfiguration(), now: { clock.now() })
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        return try await withRunningSimulator(simulator) { base in
            let api = Workload.api(base: base, http: http)
            let jobs = try workload.jobs(simulator: simulator)
            let start = clock.now()
            var queue = EventQueue()
            for index in jobs.indices {
                queue.push(start.addingTimeInterval(Double(index) * arrivalSpacing), index, submit: true)
            }
            var tracked: [Int: Tracked] = [:]
            var steps = 0
            let terraformDelays: [Double] = [2, 4, 8, 15, 30]
            while let event = queue.pop(), steps < 2_000_000 {
                steps += 1
                clock.advance(to: event.at)
                let now = clock.now()
                if event.submit {
                    guard
                        case .accepted(let id) = await api.submit(
                            jobs[event.index].submitCall(job: Int64(event.index), attempt: 1)
                        )
                    else { continue }
                    var operation = Tracked(id: id, acceptedAt: now)
                    let next: Date
                    switch peer {
                    case .terraform: next = now.addingTimeInterval(terraformDelays[0])
                    case .fixed3: next = now.addingTimeInterval(3)
                    case .fixed2: next = now.addingTimeInterval(2)
                    case .oracle:
                        operation.doneAt = simulator.operations().last { $0.operationID == id }?.doneAt
                        next = operation.doneAt ?? now
                    }
                    tracked[event.index] = operation
                    queue.push(next, event.index, submit: false)
                    continue
                }
                guard var operation = tracked[event.index] else { continue }
                let outcome = await api.operationStatus(operation.id)
                if case .finished = outcome { continue }
                if case .failed = outcome { continue }
                let next: Double
                switch peer {
                case .terraform:
                    if outcome == .inProgress {
                        operation.errors = 0
                        operation.step += 1
                        next = terraformDelays[min(operation.step, terraformDelays.count - 1)]
                    } else {
                        // Any error (404 in the start-up window, mostly) gets the provider's grace: 6 retries 5 s apart.
                        operation.errors += 1
                        guard operation.errors <= 6 else { continue }
                        next = 5
                    }
                case .fixed3: next = 3
                case .fixed2: next = 2
                case .oracle: next = 1
                }
                tracked[event.index] = operation
                queue.push(now.addingTimeInterval(next), event.index, submit: false)
            }
            return SimulatorLog.outcomes(simulator)
        }
    }
}

/// A binary min-heap of timed events (ties: submits first, then by index), for the peers' driver loop.
struct EventQueue {
    struct Event {
        var at: Date
        var index: Int
        var submit: Bool
        var order: Int
    }

    private var heap: [Event] = []
    private var counter = 0

    private static func less(_ a: Event, _ b: Event) -> Bool {
        a.at != b.at ? a.at < b.at : a.order < b.order
    }

    mutating func push(_ at: Date, _ index: Int, submit: Bool) {
        counter += 1
        heap.append(Event(at: at, index: index, submit: submit, order: counter))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Event? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.less(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { return top }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
