import ArgumentParser
import Foundation
import OpsCore
import OpsProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `kinsta-ops wait ID` — polls `GET /v1/jobs/{id}` until the job reaches a terminal state.
struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for a job to finish, showing its progress.",
        discussion: """
            Several IDs are waited for one after another (a --timeout covers them all); the exit code is the first \
            job's that did not succeed.

            On a terminal, one status line is updated in place (state, elapsed time, Kinsta polls so far, last error); \
            otherwise each state change is printed on its own line. With --json, only the final job is printed.

            Exit codes: 0 succeeded, 1 failed, 4 timed_out, 5 needs_attention, 6 cancelled, 7 skipped, \
            3 daemon unreachable, \
            124 --timeout expired (the job goes on in the daemon).
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var waiting: WaitOptions

    @OptionGroup var jobs: JobIDs

    func run() async throws {
        let code = try await global.withClient { client in
            // One after another: the daemon carries them all at once, so the later ones are often done already.
            // --timeout is for the whole wait.
            let deadline = waiting.timeout.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) }
            var code = ExitStatus.success
            for id in jobs.ids {
                let waiter = JobWaiter(
                    client: client,
                    jobID: id,
                    options: waiting,
                    json: global.json,
                    deadline: deadline
                )
                let result = try await waiter.run()
                if code == ExitStatus.success { code = result }
                if result == ExitStatus.waitTimeout { return result }
            }
            return code
        }
        if code != ExitStatus.success { throw ExitCode(code) }
    }
}

/// How long and how often to wait; shared by `wait` and `submit --wait`.
struct WaitOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Give up after this many seconds (exit 124); the job goes on in the daemon.",
            valueName: "seconds"
        )
    )
    var timeout: Double?

    @Option(help: ArgumentHelp("Seconds between polls of the daemon (at least 0.2).", valueName: "seconds"))
    var interval: Double = 1

    func validate() throws {
        guard interval.isFinite, interval >= 0.2 else {
            throw ArgumentParser.ValidationError("--interval must be at least 0.2 seconds")
        }
        if let timeout, !(timeout.isFinite && timeout > 0) {
            throw ArgumentParser.ValidationError("--timeout must be a positive number of seconds")
        }
    }
}

/// Polls one job until it is terminal and renders the progress.
struct JobWaiter {
    let client: DaemonClient
    let jobID: Int64
    let options: WaitOptions
    let json: Bool
    /// When `--timeout` ends (shared by the jobs of one `wait`); `nil` for none, or from `options` when not given.
    var deadline: ContinuousClock.Instant?

    init(
        client: DaemonClient,
        jobID: Int64,
        options: WaitOptions,
        json: Bool,
        deadline: ContinuousClock.Instant? = nil
    ) {
        self.client = client
        self.jobID = jobID
        self.options = options
        self.json = json
        self.deadline = deadline ?? options.timeout.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) }
    }

    /// A daemon restart (systemd) is ridden out for this long before `wait` gives up with exit code 3.
    static let unreachableGrace: Duration = .seconds(60)
    static let spinner: [Character] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    /// The exit code a terminal state stands for; `nil` while the job is still going (or the state is unknown).
    static func exitCode(forState state: String) -> Int32? {
        switch JobState(rawValue: state) {
        case .succeeded: ExitStatus.success
        case .failed: ExitStatus.failure
        case .timedOut: ExitStatus.timedOut
        case .needsAttention: ExitStatus.needsAttention
        case .cancelled: ExitStatus.cancelled
        case .skipped: ExitStatus.skipped
        case .held, .waiting, .queued, .submitting, .accepted, .running, nil: nil
        }
    }

    /// Waits; returns the exit code of the job's terminal state, or 124 when `--timeout` expires.
    ///
    /// - Throws: ``CLIError`` when the daemon refuses (e.g. no such job) or stays unreachable past the grace time.
    func run() async throws -> Int32 {
        let clock = ContinuousClock()
        let start = clock.now
        let interval = Duration.milliseconds(Int64(options.interval * 1000))
        let live = !json && Terminal.isTTY(STDOUT_FILENO)
        if live { Terminal.newlineOnInterrupt() }

        var lastState: String?
        var lastJob: (view: JobView, raw: Data)?
        var usual: String?
        var askedUsual = false
        var unreachableSince: ContinuousClock.Instant?
        var frame = 0

        while true {
            switch await poll() {
            case .success(let (job, raw)):
                unreachableSince = nil
                lastJob = (job, raw)
                if !askedUsual && !json && Self.exitCode(forState: job.state) == nil {
                    askedUsual = true
                    usual = await Self.usualText(of: job.kind, client)
                }
                if !live && !json && job.state != lastState {
                    let line = Self.exitCode(forState: job.state) == nil ? Self.stateLine(job) : Self.finalLine(job)
                    // The first line says what to expect.
                    Console.out(line + (lastState == nil ? usual.map { " · \($0)" } ?? "" : ""))
                    Console.flush()
                }
                lastState = job.state
                if let code = Self.exitCode(forState: job.state) {
                    if live {
                        clearLine()
                        Console.out(Self.finalLine(job))
                    } else if json {
                        Console.out(Format.rawJSON(raw))
                    }
                    return code
                }
            case .failure(let error):
                // The job is durable in the daemon: ride out a restart for a while, then give up.
                guard error.isUnreachable, lastJob != nil else { throw error }
                let since = unreachableSince ?? clock.now
                if unreachableSince == nil && !live { Console.dimError("(daemon unreachable, retrying…)") }
                unreachableSince = since
                if clock.now - since > Self.unreachableGrace { throw error }
            }

            let nextPoll = clock.now + interval
            while clock.now < nextPoll {
                if let deadline, clock.now >= deadline {
                    if live { clearLine() }
                    if json, let lastJob { Console.out(Format.rawJSON(lastJob.raw)) }
                    let state = lastState.map { " (still \($0))" } ?? ""
                    Console.error(
                        "kinsta-ops: gave up waiting for job \(jobID) after \(DurationText.format(clock.now - start))\(state); it goes on in the daemon"
                    )
                    return ExitStatus.waitTimeout
                }
                if live, let job = lastJob?.view {
                    var status = statusLine(
                        job,
                        frame: frame,
                        elapsed: clock.now - start,
                        unreachable: unreachableSince != nil
                    )
                    if let usual { status += " · " + usual }
                    Console.raw("\r\u{1B}[2K" + Format.truncate(status, to: max(20, Terminal.width() - 1)))
                    Console.flush()
                    frame += 1
                }
                var step = min(nextPoll - clock.now, .milliseconds(100))
                if let deadline { step = min(step, max(.zero, deadline - clock.now)) }
                try await Task.sleep(for: step)
            }
        }
    }

    /// One `GET /v1/jobs/{id}`, as a `Result` so the loop can tell a passing outage from a refusal.
    private func poll() async -> Result<(JobView, Data), CLIError> {
        do {
            let (job, raw) = try await client.job(jobID)
            return .success((job, raw))
        } catch {
            return .failure(error)
        }
    }

    /// `site.create usually takes 1m 10s–4m 30s (learned from 12)`, once Kinsta accepted it, from the daemon's learned durations (`GET /v1/kinds`), with how
    /// much it has seen; `nil` when the daemon does not say (an older one, or an error: `wait` goes on without it).
    static func usualText(of kind: String, _ client: DaemonClient) async -> String? {
        guard let catalog = try? await client.get(KindCatalogView.self, "/\(socketAPIVersion)/kinds").value,
            let view = catalog.kinds.first(where: { $0.name == kind }), let usual = view.usualSeconds, usual.count == 2
        else { return nil }
        let seen = view.observations.map { $0 == 0 ? "a first guess, none seen yet" : "learned from \($0)" }
        return "\(kind) usually takes \(DurationText.format(usual[0]))–\(DurationText.format(usual[1]))"
            + (seen.map { " (\($0))" } ?? "")
    }

    /// `job 12 succeeded after 24s`: the job's own time, from its submission to its end (not how long this
    /// `wait` watched it).
    static func finalLine(_ job: JobView) -> String {
        stateLine(job)
            + " after \(DurationText.format((job.finishedAt ?? job.updatedAt).timeIntervalSince(job.createdAt)))"
    }

    /// `job 12 running`, with the last error when the job ended badly.
    static func stateLine(_ job: JobView) -> String {
        var line = "job \(job.id) " + Colour.states(in: job.state)
        if let code = exitCode(forState: job.state), code != ExitStatus.success, let error = job.lastError {
            line += ": \(Format.oneLine(error))"
        }
        return line
    }

    /// The live line: spinner, state, elapsed, Kinsta polls, next check, last error.
    func statusLine(_ job: JobView, frame: Int, elapsed: Duration, unreachable: Bool) -> String {
        let spin = Self.spinner[frame % Self.spinner.count]
        var parts = [
            "\(spin) job \(job.id) \(job.state)", DurationText.format(elapsed), Format.count(job.pollCount, "poll"),
        ]
        if unreachable {
            parts.append("daemon unreachable, retrying…")
        } else if let next = job.nextActionAt, next > Date() {
            parts.append("next check \(Format.relative(next))")
        }
        if let error = job.lastError { parts.append("last error: \(Format.oneLine(error))") }
        return parts.joined(separator: " · ")
    }

    private func clearLine() {
        Console.raw("\r\u{1B}[2K")
        Console.flush()
    }
}
