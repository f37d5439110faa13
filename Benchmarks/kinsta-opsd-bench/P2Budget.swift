import CurlHTTP
import Foundation
import KinstaClient
import KinstaSimulator
import Logging
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport

/// P2: 500 operations submitted at once through the real engine with the daemon's request budget (60/min, burst
/// 10), against a simulator that answers 429 past 60 requests in any sliding minute.
///
/// The floor is what no poller can beat under this budget: an oracle that knows each operation's end, spends one
/// request per submit (submits first) and one poll per operation at its end, all through the same budget. It is
/// computed from the very operations of the adaptive run.
struct P2Budget {
    let options: Bench.Options
    var count: Int { options.quick ? 150 : 500 }
    let perMinute = 60.0
    let burst = 10.0

    func run() async throws {
        out("\nP2: \(count) operations at once, budget \(Int(perMinute))/min burst \(Int(burst)) ...")
        var rows: [[String]] = []
        var adaptiveP50 = Double.nan
        var floorP50 = Double.nan
        for adaptive in [true, false] {
            let wall = Date()
            let result = try await runEngine(adaptive: adaptive)
            let lags = result.outcomes.compactMap(\.lag)
            if adaptive {
                adaptiveP50 = Stats.percentile(lags, 50)
                let floor = Self.floorLags(result.outcomes, perMinute: perMinute, burst: burst)
                floorP50 = Stats.percentile(floor.lags, 50)
                rows.append([
                    "floor: oracle through the same budget", "0", "\(count)/\(count)",
                    "\(floor.requests)", Format.number(floorP50), Format.number(Stats.percentile(floor.lags, 99)),
                    Format.number(floor.finishedAfter / 60, 1), "–",
                ])
            }
            rows.append([
                adaptive ? "daemon, adaptive + priority claims" : "daemon, fixed schedule + priority claims",
                "\(result.rateLimited)", "\(result.succeeded)/\(count)", "\(result.requests)",
                Format.number(Stats.percentile(lags, 50)), Format.number(Stats.percentile(lags, 99)),
                Format.number(result.finishedAfter / 60, 1), Format.seconds(Date().timeIntervalSince(wall)),
            ])
        }
        Format.table(
            "P2 under a budget (\(count) operations at once, \(Int(perMinute)) requests/min, burst \(Int(burst)))",
            [
                "run", "429s caused", "succeeded", "requests", "lag p50 (s)", "lag p99 (s)", "all done after (min)",
                "wall",
            ],
            rows,
            notes: [
                "adaptive lag p50 / floor lag p50 = \(Format.number(adaptiveP50 / floorP50, 2)) (target ≤ 2)",
                "the simulator answers 429 past \(Int(perMinute)) requests in any sliding 60 s; "
                    + "\"succeeded\" counts jobs the daemon ended succeeded (every one tracked to its end)",
            ]
        )
    }

    struct Result {
        var outcomes: [OperationOutcome]
        var rateLimited: Int
        var succeeded: Int
        var requests: Int
        var finishedAfter: Double
    }

    func runEngine(adaptive: Bool) async throws -> Result {
        let workload = Workload(seed: options.seed &+ 2, count: count)
        let configuration = workload.simulatorConfiguration(rateLimitPerMinute: Int(perMinute))
        return try await withEngineRig("bench-p2", simulator: configuration) { rig in
            let (clock, simulator, database) = (rig.clock, rig.simulator, rig.database)
            let budget = RequestBudget(ratePerMinute: perMinute, burst: burst, clock: clock)
            let engine = JobEngine(
                database: database,
                api: rig.api,
                policy: PollPolicy(adaptive: AdaptivePolling(enabled: adaptive)),
                clock: clock,
                logger: rig.logger,
                // One call at a time, for the same order of commits (and numbers) on every run.
                maxInFlight: 10_000,
                maxConcurrentRequests: 1,
                seed: workload.seed,
                budget: budget
            )
            try await engine.recover()
            let start = clock.now()
            for params in try workload.jobs(simulator: simulator) {
                _ = try await database.insert(
                    NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                    now: start
                )
            }
            // Bounded: a run that has not ended after 8 virtual hours stops and reports what it has.
            var end = start
            for _ in 0..<(8 * 60) {
                end = end.addingTimeInterval(60)
                try await engine.run(until: end, on: clock)
                if try await database.inFlightCount() == 0, try await database.stateCounts()[.queued, default: 0] == 0 {
                    break
                }
            }
            let last =
                try await database.jobs(state: nil, kind: nil, before: nil, limit: count)
                .compactMap(\.finishedAt).max() ?? end
            let log = simulator.requestLog()
            return Result(
                outcomes: SimulatorLog.outcomes(simulator),
                rateLimited: log.filter { $0.status == 429 }.count,
                succeeded: try await database.stateCounts()[.succeeded, default: 0],
                requests: log.count,
                finishedAfter: last.timeIntervalSince(start)
            )
        }
    }

    /// The oracle through the budget: submits first (in order), then each operation's single poll at its end,
    /// earliest end first; one request whenever the budget (bucket + sliding minute) allows.
    static func floorLags(
        _ outcomes: [OperationOutcome],
        perMinute: Double,
        burst: Double
    )
        -> (lags: [Double], requests: Int, finishedAfter: Double)
    {
        let start = outcomes.map(\.createdAt).min() ?? Date()
        var bucket = TokenBucket(ratePerMinute: perMinute, burst: burst, now: start)
        var window: [Date] = []
        var now = start
        var pendingSubmits = outcomes.count
        // Each operation's end, relative to its own submit, placed after the oracle's submit of it.
        let durations = outcomes.map { $0.doneAt.timeIntervalSince($0.createdAt) }
        var ends: [(at: Date, index: Int)] = []
        var lags: [Double] = []
        var requests = 0
        var guardSteps = 0
        while pendingSubmits > 0 || !ends.isEmpty || lags.count < outcomes.count, guardSteps < 1_000_000 {
            guardSteps += 1
            window.removeAll { now.timeIntervalSince($0) >= 60 }
            if window.count >= Int(perMinute) {
                now = window[window.count - Int(perMinute)].addingTimeInterval(60)
                continue
            }
            let due = ends.indices.filter { ends[$0].at <= now }.min { ends[$0].at < ends[$1].at }
            if pendingSubmits == 0, due == nil {
                guard let next = ends.map(\.at).min() else { break }
                now = max(now, next)
                continue
            }
            let wait = bucket.take(now: now)
            if wait > 0 {
                now = now.addingTimeInterval(wait)
                continue
            }
            window.append(now)
            requests += 1
            if pendingSubmits > 0 {
                let index = outcomes.count - pendingSubmits
                pendingSubmits -= 1
                ends.append((now.addingTimeInterval(durations[index]), index))
            } else if let due {
                lags.append(now.timeIntervalSince(ends[due].at))
                ends.remove(at: due)
            }
        }
        return (lags, requests, now.timeIntervalSince(start))
    }
}
