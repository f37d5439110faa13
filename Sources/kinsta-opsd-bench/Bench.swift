import Foundation

/// `kinsta-opsd-bench`: the performance scenarios P1–P5 (docs/performance.md), each printing one table with its peers
/// measured in the same run. Time-driven scenarios run the real engine, store and HTTP client against the
/// in-process Kinsta simulator under a manual clock, so hours of Kinsta time pass in seconds; every draw is seeded.
/// Traffic goes only to loopback and Unix sockets, and every loop is bounded.
@main
struct Bench {
    struct Options {
        var quick = false
        var only: Set<String> = ["P1", "P2", "P3", "P4", "P5"]
        var seed: UInt64 = 7
        /// P4's busy window in seconds (default 60, or 15 with --quick); longer windows are soak checks.
        var p4Window: Double?
    }

    static func main() async throws {
        var options = Options()
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--quick": options.quick = true
            case "--only":
                options.only = Set((arguments.next() ?? "").uppercased().split(separator: ",").map(String.init))
            case "--seed": options.seed = UInt64(arguments.next() ?? "") ?? options.seed
            case "--p4-window":
                guard let seconds = Double(arguments.next() ?? ""), seconds >= 10 else {
                    FileHandle.standardError.write(Data("--p4-window takes seconds, at least 10\n".utf8))
                    exit(2)
                }
                options.p4Window = seconds
            case "-h", "--help":
                out("usage: kinsta-opsd-bench [--quick] [--only P1,P2,P3,P4,P5] [--seed N] [--p4-window SECONDS]")
                return
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
        out("kinsta-opsd-bench: seed \(options.seed)\(options.quick ? ", quick" : ""); "
            + "\(ProcessInfo.processInfo.activeProcessorCount) cores; \(Date().formatted(.iso8601))")
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
        await scenario("P2") { try await P2Budget(options: options).run() }
        await scenario("P3") { try await P3Enqueue(options: options).run() }
        await scenario("P5") { try await P5History(options: options).run() }
        await scenario("P4") { try await P4Footprint(options: options).run() }
        out("\ntotal wall time \(Format.seconds(Date().timeIntervalSince(started)))")
        if failed { exit(1) }
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
            "| " + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
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

/// A fresh temporary directory under /tmp (short, so Unix socket paths fit), removed on `remove()`.
struct ScratchDirectory {
    let path: String

    init(_ prefix: String) throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("cannot create a temporary directory") }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
