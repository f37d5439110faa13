import Foundation
import OpsCore

/// P1 from a cold start on a Kinsta unlike the priors (issue 16): the same arrivals and kinds as P1, with every
/// duration 4× shorter, 2× longer, or halved after the 300th operation. Ours (the real engine, learning from
/// nothing) and the Terraform provider's schedule meet the same operations in each.
///
/// Targets on each workload: lag p99 ≤ 20 s, also over the first 50 operations of each kind; requests ≤ 0.8× TF's;
/// lag p50 ≤ 0.4× TF's; and after a shift, back within them within 50 operations.
struct P1ColdStart {
    let options: Bench.Options
    var count: Int { options.quick ? 300 : 1000 }
    var shiftAt: Int { options.quick ? 100 : 300 }

    struct Variant {
        var name: String
        var workload: Workload
    }

    func run() async throws {
        let p1 = P1PollEfficiency(options: options)
        var shifted = Workload(seed: options.seed, count: count)
        shifted.durationShift = (afterOperations: shiftAt, scale: 0.5)
        var shorter = Workload(seed: options.seed, count: count)
        shorter.durationScale = 0.25
        var longer = Workload(seed: options.seed, count: count)
        longer.durationScale = 2
        let variants = [
            Variant(name: "4× shorter than the priors", workload: shorter),
            Variant(name: "2× longer than the priors", workload: longer),
            Variant(name: "halved after operation \(shiftAt)", workload: shifted),
        ]
        out("\nP1C: \(count) operations, cold start, on a Kinsta unlike the priors ...")
        var rows: [[String]] = []
        var notes: [String] = []
        for variant in variants {
            let wall = Date()
            let ours = try await p1.runOurs(variant.workload)
            let terraform = try await p1.runPeer(.terraform, variant.workload)
            notes.append("\(variant.name): ours ran in \(Format.seconds(Date().timeIntervalSince(wall))) with its peer")
            var slices: [(String, [Int])] = [("all \(count)", Array(ours.indices))]
            slices.append(("first 50 of each kind", Self.firstOfEachKind(ours, 50)))
            if let shift = variant.workload.durationShift {
                slices.append(("the 50 after the shift", Array(shift.afterOperations..<(shift.afterOperations + 50))))
                slices.append(
                    ("after those (\(shift.afterOperations + 50)+)", Array((shift.afterOperations + 50)..<ours.count))
                )
            }
            for (slice, indices) in slices {
                let mine = indices.filter { $0 < ours.count }.map { ours[$0] }
                let theirs = indices.filter { $0 < terraform.count }.map { terraform[$0] }
                rows.append(Self.row(variant.name, slice, mine, theirs))
            }
        }
        Format.table(
            "P1C cold start on a Kinsta unlike the priors (lag in seconds from Kinsta's end to the poll that saw 200)",
            [
                "durations", "operations", "req/op ours", "req/op TF", "ours/TF req", "lag p50 ours", "ours/TF p50",
                "lag p99 ours", "lag max ours", "targets",
            ],
            rows,
            notes: ["targets: ours/TF req ≤ 0.8, ours/TF lag p50 ≤ 0.4, lag p99 ≤ 20 s"] + notes
        )
    }

    /// The indices of the first `n` operations of each kind, in creation order.
    static func firstOfEachKind(_ outcomes: [OperationOutcome], _ n: Int) -> [Int] {
        var seen: [String: Int] = [:]
        return outcomes.indices.filter { index in
            seen[outcomes[index].kind, default: 0] += 1
            return seen[outcomes[index].kind]! <= n
        }
    }

    static func row(
        _ name: String,
        _ slice: String,
        _ ours: [OperationOutcome],
        _ terraform: [OperationOutcome]
    )
        -> [String]
    {
        let requests = Stats.mean(ours.map { Double($0.requests) })
        let tfRequests = Stats.mean(terraform.map { Double($0.requests) })
        let lags = ours.compactMap(\.lag)
        let p50 = Stats.percentile(lags, 50)
        let tfP50 = Stats.percentile(terraform.compactMap(\.lag), 50)
        let p99 = Stats.percentile(lags, 99)
        let met = requests / tfRequests <= 0.8 && p50 / tfP50 <= 0.4 && p99 <= 20 && lags.count == ours.count
        return [
            name, "\(slice) (\(lags.count)/\(ours.count) seen)", Format.number(requests, 2),
            Format.number(tfRequests, 2), Format.number(requests / tfRequests, 2), Format.number(p50),
            Format.number(p50 / tfP50, 2), Format.number(p99), Format.number(lags.max() ?? .nan),
            met ? "met" : "missed",
        ]
    }
}
