import ArgumentParser
import Foundation
import OpsCore
import OpsProtocol
import Synchronization

/// Options every command takes: where the daemon's socket is, and whether to print JSON.
struct GlobalOptions: ParsableArguments {
    /// Where the daemon listens when nothing else says otherwise.
    static let defaultSocketPath = "/run/kinsta-opsd/kinsta-opsd.sock"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Path of the daemon's Unix socket (default: $KINSTA_OPS_SOCKET, $KINSTA_OPSD_SOCKET, then \(defaultSocketPath)).",
            valueName: "path"
        )
    )
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's JSON instead of tables (NDJSON for history).")
    var json = false

    @Flag(name: .customLong("no-trunc"), help: "Cut no table column (names, IDs, transitions) to fit.")
    var noTrunc = false

    func validate() throws {
        Table.truncates.store(!noTrunc, ordering: .relaxed)
    }

    /// Options of every command, as they may come before the command's name (`kinsta-ops --socket P jobs`, as
    /// docker and systemctl take them); the values say whether each takes a value.
    static let hoistable: [String: Bool] = ["--socket": true, "--json": false, "--no-trunc": false]

    /// `arguments` (without the program name) with the global options given before the command moved to just
    /// after the command's name, where the parser reads them. Anything else is left as it is, so an unknown option
    /// before the command still gets the parser's error.
    static func hoisted(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            guard let takesValue = hoistable[name] else { break }
            leading.append(argument)
            index += 1
            if takesValue && !argument.contains("=") && index < arguments.endIndex {
                leading.append(arguments[index])
                index += 1
            }
        }
        guard !leading.isEmpty, index < arguments.endIndex else { return arguments }
        return [arguments[index]] + leading + arguments[(index + 1)...]
    }

    /// The socket path: `--socket`, else `KINSTA_OPS_SOCKET`, else `KINSTA_OPSD_SOCKET`, else the default.
    var socketPath: String {
        if let socket, !socket.isEmpty { return socket }
        let environment = ProcessInfo.processInfo.environment
        for name in ["KINSTA_OPS_SOCKET", "KINSTA_OPSD_SOCKET"] {
            if let value = environment[name], !value.isEmpty { return value }
        }
        return Self.defaultSocketPath
    }

    /// Runs `body` with a client connected to the configured socket.
    ///
    /// A ``CLIError`` becomes one line on stderr and its exit code (`ExitCode`); usage errors and exit codes pass
    /// through; anything else is reported as one line with exit code 1. The client is shut down afterwards.
    func withClient<T>(_ body: (DaemonClient) async throws -> T) async throws -> T {
        let client = DaemonClient(socketPath: socketPath)
        defer { client.shutdown() }
        do {
            return try await body(client)
        } catch let error as CLIError {
            error.report(json: json)
            throw ExitCode(error.exitCode)
        } catch let error as ExitCode {
            throw error
        } catch let error as ArgumentParser.ValidationError {
            throw error
        } catch {
            CLIError(message: "kinsta-ops: \(error)", exitCode: ExitStatus.failure).report(json: json)
            throw ExitCode(ExitStatus.failure)
        }
    }

    /// Runs `body` for each job ID in order, as `docker rm A B` does: a refusal of one is reported on its own line
    /// and the others still run; the exit code is the first non-zero one.
    func forEachJob(_ ids: [Int64], _ body: (DaemonClient, Int64) async throws(CLIError) -> Void) async throws {
        var code = ExitStatus.success
        try await withClient { client in
            for id in ids {
                do throws(CLIError) {
                    try await body(client, id)
                } catch {
                    // Unreachable stays unreachable for the next ID: stop at the first.
                    if error.isUnreachable { throw error }
                    error.report(json: json)
                    if code == ExitStatus.success { code = error.exitCode }
                }
            }
        }
        if code != ExitStatus.success { throw ExitCode(code) }
    }
}

/// The job IDs of `show`, `wait`, `cancel` and `retry`: one or more.
struct JobIDs: ParsableArguments {
    @Argument(help: ArgumentHelp("One or more job IDs.", valueName: "id"))
    var ids: [Int64]

    func validate() throws {
        if ids.isEmpty { throw ArgumentParser.ValidationError("give at least one job ID") }
        if let bad = ids.first(where: { $0 < 1 }) {
            throw ArgumentParser.ValidationError("\(bad) is not a job ID: a job ID is a positive number")
        }
    }
}

/// `--since` and `--until` of `history` and `jobs`, read as journalctl reads them (``TimeExpression``).
struct TimeWindow: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "From this time on (\"1 hour ago\", \"today\", \"2026-12-01 09:30\", an ISO-8601 time, @EPOCH).",
            valueName: "time"
        )
    )
    var since: String?

    @Option(help: ArgumentHelp("Up to this time (the same forms as --since).", valueName: "time"))
    var until: String?

    /// The two times (checked by ``validate()``; "1 hour ago" is read against the moment of the call).
    var sinceDate: Date? {
        sinceSequence == nil ? since.flatMap { TimeExpression.parse($0, now: Date(), timeZone: .current) } : nil
    }

    /// `--since N` with a bare number: a sequence number, as `history --since SEQ` read before times (SPEC.md);
    /// `--after N` says it plainly.
    var sinceSequence: Int64? { since.flatMap { Int64($0) } }
    var untilDate: Date? { until.flatMap { TimeExpression.parse($0, now: Date(), timeZone: .current) } }

    func validate() throws {
        let now = Date()
        let sinceDate = try since.map { sinceSequence == nil ? try Self.read($0, "--since", now: now) : .distantPast }
        let untilDate = try until.map { try Self.read($0, "--until", now: now) }
        if let sinceDate, let untilDate, untilDate < sinceDate {
            throw ArgumentParser.ValidationError("--until is before --since: nothing could match")
        }
    }

    static func read(_ text: String, _ flag: String, now: Date) throws -> Date {
        if let date = TimeExpression.parse(text, now: now, timeZone: .current) { return date }
        throw ArgumentParser.ValidationError("\(flag) \"\(text)\" is not a time: use \(TimeExpression.forms)")
    }

    /// The daemon's `since=` and `until=` (ISO-8601, UTC).
    var query: [(String, String?)] {
        [("since", sinceDate.map(WireJSON.formatDate)), ("until", untilDate.map(WireJSON.formatDate))]
    }
}

/// The IDs, or the filter, of `cancel` and `retry`: `retry --state failed --kind backup.create --since "24 hours ago"`
/// acts on every job the filter finds (all pages), and `--dry-run` lists them without acting.
struct BulkSelection: ParsableArguments {
    @Argument(help: ArgumentHelp("Job IDs; or, instead, a filter below.", valueName: "id"))
    var ids: [Int64] = []

    @Option(help: ArgumentHelp("Every job in this state (repeatable).", valueName: "state"))
    var state: [String] = []

    @Option(help: ArgumentHelp("Every job of this kind.", valueName: "kind"))
    var kind: String?

    @OptionGroup var window: TimeWindow

    @Flag(help: "List the jobs the filter finds, and change nothing.")
    var dryRun = false

    var filtered: Bool { !state.isEmpty || kind != nil || window.since != nil || window.until != nil }

    func validate() throws {
        if ids.isEmpty && !filtered {
            throw ArgumentParser.ValidationError("give job IDs, or a filter (--state, --kind, --since, --until)")
        }
        if !ids.isEmpty && filtered {
            throw ArgumentParser.ValidationError("give job IDs or a filter, not both")
        }
        if dryRun && !filtered { throw ArgumentParser.ValidationError("--dry-run goes with a filter") }
        if let bad = ids.first(where: { $0 < 1 }) {
            throw ArgumentParser.ValidationError("\(bad) is not a job ID: a job ID is a positive number")
        }
        try NameCheck.states(state)
        try NameCheck.kind(kind)
        if window.sinceSequence != nil {
            throw ArgumentParser.ValidationError("--since takes a time here (\(TimeExpression.forms))")
        }
    }

    /// The jobs to act on: the IDs given, or every job the filter finds (oldest first, every page).
    func jobs(_ client: DaemonClient) async throws(CLIError) -> [JobView] {
        var found: [JobView] = []
        var before: Int64?
        while true {
            let query: [(String, String?)] =
                [
                    ("state", state.isEmpty ? nil : state.joined(separator: ",")), ("kind", kind), ("limit", "1000"),
                    ("before", before.map(String.init)),
                ] + window.query
            let (page, _) = try await client.get(JobListView.self, "/\(socketAPIVersion)/jobs", query: query)
            found += page.jobs
            guard let next = page.nextBefore else { break }
            before = next
        }
        return found.reversed()
    }

    /// Runs `action` on each selected job (`cancel`, `retry`), or lists them with `--dry-run`.
    func run(
        _ global: GlobalOptions,
        verb: String,
        _ action: @escaping (DaemonClient, Int64) async throws(CLIError) -> Void
    ) async throws {
        guard filtered else {
            try await global.forEachJob(ids, action)
            return
        }
        let selected = try await global.withClient { client in try await jobs(client) }
        if dryRun {
            for job in selected {
                Console.out(
                    global.json
                        ? Format.json(
                            .object(["id": .integer(job.id), "kind": .string(job.kind), "state": .string(job.state)])
                        )
                        : "would \(verb) job \(job.id) (\(job.kind), \(job.state))"
                )
            }
            if !global.json { Console.dimError("(\(Format.count(selected.count, "job")); nothing changed)") }
            return
        }
        if selected.isEmpty {
            if !global.json { Console.out("no jobs") }
            return
        }
        try await global.forEachJob(selected.map(\.id), action)
    }
}

/// The state and kind names of a filter, checked before the daemon is asked, with a suggestion for a misspelt one.
enum NameCheck {
    static func states(_ names: [String]) throws {
        let states = JobState.allCases.map(\.rawValue)
        for name in names where !states.contains(name) {
            throw ArgumentParser.ValidationError(
                "unknown state \(name)" + Suggestion.hint(for: name, among: states) + "; states are "
                    + states.joined(separator: ", ")
            )
        }
    }

    static func kind(_ name: String?) throws {
        guard let name, JobKind(rawValue: name) == nil else { return }
        throw ArgumentParser.ValidationError(
            "unknown kind \(name)" + Suggestion.hint(for: name, among: JobKind.allCases.map(\.rawValue))
                + "; `kinsta-ops kinds` lists them"
        )
    }
}
