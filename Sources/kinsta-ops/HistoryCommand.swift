import ArgumentParser
import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops history` — `GET /v1/events` (NDJSON, one ``EventView`` a line), optionally followed live.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show the job history (state changes of all jobs, or of one job).",
        discussion: """
            Without --since or --after, shows the last \(defaultTail) events (all events of the job with --job). \
            --since TIME shows everything from TIME on, --until TIME nothing after it (times as journalctl takes \
            them: \(TimeExpression.forms); local time unless a zone is given). --after SEQ shows everything after \
            the sequence number SEQ (a bare number given to --since is read so too). -f keeps printing new events as they happen; if the daemon goes away, it \
            reconnects and carries on after the last event shown, so nothing is missed or repeated.
            """
    )

    /// How many events `history` shows when neither `--since`, `-n` nor `--job` says otherwise.
    static let defaultTail = 20

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .customLong("after"),
        help: ArgumentHelp("Show the events after this sequence number.", valueName: "seq")
    )
    var afterOption: Int64?

    /// `--after SEQ`, or the older `--since SEQ` (a bare number).
    var after: Int64? { afterOption ?? window.sinceSequence }

    @OptionGroup var window: TimeWindow

    @Option(help: ArgumentHelp("Only the events of this job.", valueName: "id"))
    var job: Int64?

    @Option(
        name: [.customShort("n"), .customLong("lines")],
        help: ArgumentHelp("Show (at most) this many events: the last N, or the first N after --since.", valueName: "n")
    )
    var lines: Int?

    @Flag(name: [.short, .long], help: "Keep printing new events as they happen (Ctrl-C to stop).")
    var follow = false

    func validate() throws {
        if let after = afterOption ?? window.sinceSequence, after < 0 {
            throw ArgumentParser.ValidationError("--after must be a sequence number (0 or more)")
        }
        if afterOption != nil && window.sinceSequence != nil {
            throw ArgumentParser.ValidationError("--since SEQ and --after SEQ say the same: give one")
        }
        if follow && window.until != nil {
            throw ArgumentParser.ValidationError("--until and -f exclude each other: a follow never ends")
        }
        if let job, job < 1 { throw ArgumentParser.ValidationError("--job must be a job ID (at least 1)") }
        if let lines, lines < 1 { throw ArgumentParser.ValidationError("-n must be at least 1") }
    }

    func run() async throws {
        try await global.withClient { client in
            // Following starts after --since even when nothing newer exists yet.
            var printer = EventPrinter(json: global.json, after: after ?? 0)
            let initial = try await fetchInitial(client)
            printer.begin(with: initial, follow: follow)
            if follow {
                var follower = Follower(client: client, job: job, printer: printer)
                try await follower.run()
            }
        }
    }

    private var eventsPath: String { "/\(socketAPIVersion)/events" }

    /// The first batch: `tail=N`, or everything after `--since` (page by page when no `-n` caps it).
    private func fetchInitial(_ client: DaemonClient) async throws(CLIError) -> [EventLine] {
        let jobQuery = job.map(String.init)
        let times = window.query
        if after == nil, window.since == nil, lines != nil || job == nil {
            let tail = lines ?? Self.defaultTail
            let response = try await client.send(
                "GET",
                eventsPath,
                query: [("tail", String(tail)), ("job", jobQuery)] + times
            )
            // Kept to the last N even if the daemon sent more.
            return Array(try EventLine.parse(response.body, client: client, route: "GET \(eventsPath)").suffix(tail))
        }
        var after = self.after ?? 0
        var collected: [EventLine] = []
        while true {
            let limit = lines.map { String($0 - collected.count) }
            // --since only for the first page: the later ones go on after the last event read.
            let response = try await client.send(
                "GET",
                eventsPath,
                query: [("after", String(after)), ("job", jobQuery), ("limit", limit)]
                    + (collected.isEmpty ? times : times.filter { $0.0 != "since" })
            )
            let page = try EventLine.parse(response.body, client: client, route: "GET \(eventsPath)")
                .filter { $0.event.seq > after }
            collected += page
            guard let last = page.last, lines.map({ collected.count < $0 }) ?? true else { break }
            after = last.event.seq
        }
        return collected
    }
}

/// One event with the exact line the daemon sent (printed as-is with `--json`).
struct EventLine: Sendable {
    var event: EventView
    var raw: String

    /// Parses an NDJSON body, sorted by `seq`.
    ///
    /// - Throws: ``CLIError`` (exit 1) for a line that is not an event.
    static func parse(_ body: Data, client: DaemonClient, route: String) throws(CLIError) -> [EventLine] {
        var events: [EventLine] = []
        for line in body.split(separator: UInt8(ascii: "\n")) {
            if let event = try parseLine(Data(line), client: client, route: route) { events.append(event) }
        }
        return events.sorted { $0.event.seq < $1.event.seq }
    }

    /// Parses one NDJSON line; `nil` for a blank one.
    static func parseLine(_ line: Data, client: DaemonClient, route: String) throws(CLIError) -> EventLine? {
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        let event = try client.decode(EventView.self, from: Data(text.utf8), route: route)
        return EventLine(event: event, raw: text)
    }
}

/// Prints events as a table (widths fixed by the first batch, so followed rows line up; the message, last, is never
/// cut, so a reason that came after an empty first batch is shown whole) or as NDJSON, never the same `seq` twice.
struct EventPrinter: Sendable {
    let json: Bool
    private(set) var lastSeq: Int64 = 0
    private var widths: [Int] = []

    static let table = Table([
        .init("SEQ", alignment: .right, minWidth: 5), .init("TIME", minWidth: 8),
        .init("JOB", alignment: .right, minWidth: 4),
        .init("KIND", minWidth: JobKind.allCases.map(\.rawValue.count).max() ?? 0),
        .init("FROM → TO", minWidth: 21, maxWidth: 33, states: true),
        .init("MESSAGE"),
    ])

    /// - Parameters:
    ///   - json: print the daemon's lines as they are instead of table rows.
    ///   - after: events up to this `seq` count as printed already.
    init(json: Bool, after: Int64) {
        self.json = json
        self.lastSeq = after
    }

    /// Prints the first batch (with the header), or `no events` when there is none and nothing will follow.
    mutating func begin(with events: [EventLine], follow: Bool) {
        if !json {
            let rows = events.map { cells($0.event) }
            widths = Self.table.widths(for: rows)
            if events.isEmpty && !follow {
                Console.out("no events")
                return
            }
            Console.out(Self.table.header(widths: widths))
        }
        for event in events { print(event) }
        Console.flush()
    }

    /// Prints one event unless its `seq` was printed already.
    mutating func print(_ line: EventLine) {
        guard line.event.seq > lastSeq else { return }
        lastSeq = line.event.seq
        Console.out(json ? line.raw : Self.table.line(cells(line.event), widths: widths))
    }

    private func cells(_ event: EventView) -> [String] {
        [
            String(event.seq), Format.clock(event.at, now: Date()), String(event.jobID), event.kind,
            Format.transition(event), Format.eventMessage(event),
        ]
    }
}

/// `history --follow`: streams `GET /v1/events?after=<last>&follow=1`, reconnecting with backoff. `after` is the
/// last `seq` printed, so nothing still retained is missed or repeated across reconnections.
struct Follower {
    let client: DaemonClient
    let job: Int64?
    var printer: EventPrinter

    private var path: String { "/\(socketAPIVersion)/events" }

    /// Runs until interrupted; only a refusal by the daemon (4xx) ends it with an error.
    mutating func run() async throws {
        var backoff = 1
        var reportedOutage = false
        while true {
            do {
                let query: [(String, String?)] = [
                    ("after", String(printer.lastSeq)), ("job", job.map(String.init)), ("follow", "1"),
                ]
                let response = try await client.stream(path, query: query, timeout: .seconds(24 * 3600))
                reportedOutage = false
                backoff = 1
                try await consume(response)
                // A stream that ends means the daemon went away (restart, shutdown).
            } catch let error as CLIError where error.exitCode == ExitStatus.usage {
                throw error
            } catch let error as BadLine {
                throw error.error
            } catch is CancellationError {
                return
            } catch {
                // Unreachable, a 5xx, or the stream broke: report once, then retry.
            }
            if !reportedOutage {
                Console.dimError("(daemon unreachable, retrying…)")
                reportedOutage = true
            }
            try await Task.sleep(for: .seconds(backoff))
            backoff = min(backoff * 2, 5)
        }
    }

    /// A line of the stream that is not an event: following stops (exit 1) instead of retrying forever.
    private struct BadLine: Error {
        var error: CLIError
    }

    /// Parses one line, wrapping a failure in ``BadLine``.
    private func parse(_ line: Data) throws(BadLine) -> EventLine? {
        do {
            return try EventLine.parseLine(line, client: client, route: "GET \(path)")
        } catch {
            throw BadLine(error: error)
        }
    }

    /// Prints every complete line of the body as it arrives; a cut last line is dropped (it comes again after
    /// reconnecting, since `after` only moves on printed events).
    private mutating func consume(_ response: HTTPStreamingResponse) async throws {
        var buffer = Data()
        for try await chunk in response.body {
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[buffer.index(after: newline)...])
                if let event = try parse(Data(line)) {
                    printer.print(event)
                    Console.flush()
                }
            }
        }
    }
}
