import ArgumentParser
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops jobs` — `GET /v1/jobs?state=&kind=&limit=&before=`, newest first.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List jobs, newest first.",
        discussion: "Shows one page; when there are more, a hint on stderr gives the --before to see the next page."
    )

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "Only jobs in this state (queued, running, failed, needs_attention, …); repeat it for several.",
            valueName: "state"
        )
    )
    var state: [String] = []

    @Flag(help: "Only jobs not ended yet (held, waiting, queued, submitting, accepted, running).")
    var active = false

    @Flag(help: "Only jobs an admin should look at (failed, timed_out, needs_attention).")
    var attention = false

    /// The states asked for, in the order given, each once; empty for all.
    var states: [String] {
        var names = state.flatMap { $0.split(separator: ",").map(String.init) }
        if active { names += ["held", "waiting", "queued", "submitting", "accepted", "running"] }
        if attention { names += ["failed", "timed_out", "needs_attention"] }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    @Option(help: ArgumentHelp("Only jobs of this kind (site.create, backup.restore, …).", valueName: "kind"))
    var kind: String?

    @Option(help: ArgumentHelp("At most this many jobs.", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Only jobs with an ID below this one (the next page).", valueName: "id"))
    var before: Int64?

    @OptionGroup var window: TimeWindow

    @Flag(name: [.short, .customLong("quiet")], help: "Print only the job IDs, one a line (as docker ps -q).")
    var quiet = false

    func validate() throws {
        // Checked here too, so a misspelt state gets its suggestion without a daemon.
        try NameCheck.states(states)
        try NameCheck.kind(kind)
        if window.sinceSequence != nil {
            throw ArgumentParser.ValidationError(
                "jobs --since takes a time (\(TimeExpression.forms)); for older pages use --before ID"
            )
        }
        if quiet && global.json { throw ArgumentParser.ValidationError("-q and --json exclude each other") }
        if let limit, limit < 1 { throw ArgumentParser.ValidationError("--limit must be at least 1") }
        if let before, before < 1 { throw ArgumentParser.ValidationError("--before must be a job ID (at least 1)") }
    }

    func run() async throws {
        try await global.withClient { client in
            let states = self.states
            let query: [(String, String?)] =
                [
                    ("state", states.isEmpty ? nil : states.joined(separator: ",")), ("kind", kind),
                    ("limit", limit.map(String.init)), ("before", before.map(String.init)),
                ] + window.query
            let (list, raw) = try await client.get(JobListView.self, "/\(socketAPIVersion)/jobs", query: query)
            if global.json {
                Console.out(Format.rawJSON(raw))
                return
            }
            if quiet {
                for job in list.jobs { Console.out(String(job.id)) }
            } else {
                for line in Self.render(list.jobs, now: Date()) { Console.out(line) }
            }
            if let next = list.nextBefore {
                var hint = "kinsta-ops jobs --before \(next)"
                for state in states { hint += " --state \(state)" }
                if let kind { hint += " --kind \(kind)" }
                if let limit { hint += " --limit \(limit)" }
                if let since = window.since { hint += " --since '\(since)'" }
                if let until = window.until { hint += " --until '\(until)'" }
                if quiet { hint += " -q" }
                Console.dimError("(more: \(hint))")
            }
        }
    }

    /// The jobs table: ID, KIND, STATE, TARGET/SITE, OPERATION, AGE, LAST ERROR; `no jobs` when empty.
    static func render(_ jobs: [JobView], now: Date) -> [String] {
        guard !jobs.isEmpty else { return ["no jobs"] }
        var table = Table([
            .init("ID", alignment: .right), .init("KIND"), .init("STATE", states: true),
            .init("TARGET/SITE", maxWidth: 32),
            .init("OPERATION", maxWidth: 20), .init("AGE"), .init("LAST ERROR", maxWidth: 60),
        ])
        for job in jobs {
            table.append([
                String(job.id), job.kind, job.state, Format.target(of: job), job.operationID ?? "",
                Format.relative(job.createdAt, now: now), job.lastError.map(Format.oneLine) ?? "",
            ])
        }
        return table.render()
    }
}
