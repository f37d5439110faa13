import ArgumentParser
import Foundation
import OpsCore

/// `kinsta-opsd-bench`: the performance scenarios P1–P5 (docs/performance.md), each printing one table with its peers
/// measured in the same run. Time-driven scenarios run the real engine, store and HTTP client against the
/// in-process Kinsta simulator under a manual clock, so hours of Kinsta time pass in seconds; every draw is seeded.
/// Traffic goes only to loopback and Unix sockets, and every loop is bounded.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinsta-opsd-bench",
        abstract: "The performance scenarios P1–P5 (docs/performance.md), each printing one table."
    )

    @Flag(help: "Smaller sizes (about a minute in all).") var quick = false
    @Option(help: "The scenarios to run, e.g. P1,P3 (P1C: P1 from a cold start on Kinsta unlike the priors).")
    var only = "P1,P1C,P2,P3,P4,P5,P6"
    @Option(help: "Seed of every random draw.") var seed: UInt64 = 7
    @Option(
        name: .customLong("p4-window"),
        help: "P4's busy window in seconds (default 60, or 15 with --quick); longer windows are soak checks."
    )
    var p4Window: Double?
    @Flag(help: "P1 without its sensitivity rows and the fixed peers (ours and the Terraform schedule only).")
    var noVariants = false
    @Option(help: "Exploration share of ours in P1/P1C (default: the daemon's).") var exploreShare: Double?
    @Option(help: "Observation half-life of ours in P1/P1C (default: the daemon's).") var halfLife: Double?
    @Option(help: "Tradeoff of ours in P1/P1C (default: the daemon's).") var tradeoff: Double?
    @Option(help: "First-poll quantile of ours in P1/P1C (default: the daemon's).") var quietQuantile: Double?

    struct Options {
        var quick = false
        var only: Set<String> = ["P1", "P1C", "P2", "P3", "P4", "P5", "P6"]
        var seed: UInt64 = 7
        /// P4's busy window in seconds (default 60, or 15 with --quick); longer windows are soak checks.
        var p4Window: Double?
        /// P1 without its sensitivity rows and the fixed peers.
        var noVariants = false
        /// Ours in P1 and P1C: the daemon's adaptive defaults, with what the command line changed.
        var adaptive = AdaptivePolling()
    }

    func validate() throws {
        if let p4Window, p4Window < 10 { throw ValidationError("--p4-window takes seconds, at least 10") }
        let known: Set<String> = ["P1", "P1C", "P2", "P3", "P4", "P5", "P6"]
        let asked = Set(only.uppercased().split(separator: ",").map(String.init))
        guard !asked.isEmpty, asked.isSubset(of: known) else {
            throw ValidationError("--only takes scenarios among P1,P1C,P2,P3,P4,P5,P6")
        }
    }

    func run() async throws {
        var options = Options(
            quick: quick,
            only: Set(only.uppercased().split(separator: ",").map(String.init)),
            seed: seed,
            p4Window: p4Window
        )
        options.noVariants = noVariants
        if let exploreShare { options.adaptive.exploreShare = exploreShare }
        if let halfLife { options.adaptive.halfLife = halfLife }
        if let tradeoff { options.adaptive.tradeoff = tradeoff }
        if let quietQuantile { options.adaptive.quietQuantile = quietQuantile }
        out(
            "kinsta-opsd-bench: seed \(options.seed)\(options.quick ? ", quick" : ""); "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores; \(Date().formatted(.iso8601))"
                + (options.adaptive == AdaptivePolling()
                    ? ""
                    : "; ours with explore share \(options.adaptive.exploreShare), half-life \(options.adaptive.halfLife), "
                        + "tradeoff \(options.adaptive.tradeoff), first poll at \(options.adaptive.quietQuantile)")
        )
        let started = Date()
        var failed = false
        func scenario(_ name: String, _ body: () async throws -> Void) async {
            guard options.only.contains(name) else { return }
            do { try await body() } catch {
                failed = true
                out("\n\(name) FAILED: \(error)")
            }
        }
        await scenario("P1") { try await P1PollEfficiency(options: options).run() }
        await scenario("P1C") { try await P1ColdStart(options: options).run() }
        await scenario("P2") { try await P2Budget(options: options).run() }
        await scenario("P6") { try await P6Nightly(options: options).run() }
        await scenario("P3") { try await P3Enqueue(options: options).run() }
        await scenario("P5") { try await P5History(options: options).run() }
        await scenario("P4") { try await P4Footprint(options: options).run() }
        out("\ntotal wall time \(Format.seconds(Date().timeIntervalSince(started)))")
        if failed { throw ExitCode.failure }
    }
}

/// One line on standard output, written at once (the tables are read while a long run goes on).
func out(_ line: String = "") {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Percentiles (nearest rank) and means.
enum Stats {
    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }
}

enum Format {
    static func number(_ value: Double, _ digits: Int = 1) -> String {
        value.isNaN ? "–" : String(format: "%.\(digits)f", value)
    }

    static func seconds(_ value: Double) -> String { number(value, 1) + " s" }

    /// A Markdown table, columns padded.
    static func table(_ title: String, _ header: [String], _ rows: [[String]], notes: [String] = []) {
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            "| "
                + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: " | ") + " |"
        }
        out("\n### \(title)\n")
        out(line(header))
        out("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
        for row in rows { out(line(row)) }
        if !notes.isEmpty { out("") }
        for note in notes { out("- " + note) }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
