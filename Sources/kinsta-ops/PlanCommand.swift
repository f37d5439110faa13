import ArgumentParser
import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol
import PlanFiles

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `kinsta-ops plan run|show|list|cancel`: plans, several jobs in one submission (`POST /v1/plans`).
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Run plans: several steps in one submission, each after the ones it names, outputs passed along.",
        discussion: """
            A plan file (TOML or JSON) names the plan and lists its steps:

              name = "release"
              [[steps]]
              id = "backup"
              kind = "backup.create"
              params = { environment_id = "…", tag = "before release" }
              [[steps]]
              id = "push"
              kind = "environment.push"
              after = ["backup"]
              params = { site_id = "…", source_env_id = "…", target_env_id = "…" }

            A parameter may take an earlier step's output: \
            value = { from = { step = "site", output = "env_id" } }. The daemon checks the whole plan before \
            storing any of it; a step that does not succeed skips those after it. \
            config/examples/ has complete plans.
            """,
        subcommands: [
            PlanRunCommand.self, PlanWaitCommand.self, PlanShowCommand.self, PlanListCommand.self,
            PlanCancelCommand.self,
        ]
    )
}

/// `kinsta-ops plan run FILE [--wait]`.
struct PlanRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Submit the plan in FILE (TOML, or JSON; - reads standard input).",
        discussion: """
            With --wait, follows every step until the plan ends: on a terminal the steps are redrawn in place, \
            otherwise each change is printed on its own line. Exit codes: 0 every step succeeded, 1 the plan failed, \
            6 it was cancelled, 124 --timeout expired (the plan goes on in the daemon).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The plan file: .toml or .json (- for standard input).", valueName: "file"))
    var file: String

    @Flag(help: "Wait until the plan ends, showing each step's progress.")
    var wait = false

    @Option(help: ArgumentHelp("The same key with the same plan submits it once.", valueName: "key"))
    var idempotencyKey: String?

    @OptionGroup var waiting: WaitOptions

    func run() async throws {
        let body: Data
        do {
            body = try PlanFile.data(of: file)
        } catch {
            CLIError.usage("\(error)").report(json: global.json)
            throw ExitCode(ExitStatus.usage)
        }
        let code = try await global.withClient { client in
            let headers = idempotencyKey.map { [HTTPHeader("Idempotency-Key", $0)] } ?? []
            let (plan, raw, status) = try await client.post(
                PlanView.self,
                "/\(socketAPIVersion)/plans",
                body: body,
                headers: headers
            )
            if !wait {
                if global.json {
                    Console.out(Format.rawJSON(raw))
                } else {
                    let again = status == 200 ? " (already submitted with this key)" : ""
                    Console.out("plan \(plan.id) \(plan.name): \(Format.count(plan.steps.count, "step"))\(again)")
                    for line in PlanFormat.steps(plan) { Console.out(line) }
                }
                return ExitStatus.success
            }
            if !global.json {
                Console.out("plan \(plan.id) \(plan.name): \(Format.count(plan.steps.count, "step"))")
            }
            return try await PlanWaiter(client: client, planID: plan.id, options: waiting, json: global.json).run()
        }
        if code != ExitStatus.success { throw ExitCode(code) }
    }
}

/// `kinsta-ops plan wait ID`.
struct PlanWaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for a plan to end, showing each step's progress.",
        discussion: "Exit codes: 0 every step succeeded, 1 the plan failed, 6 it was cancelled, 124 --timeout expired."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The plan's ID.", valueName: "id")) var id: Int64
    @OptionGroup var waiting: WaitOptions

    func run() async throws {
        let code = try await global.withClient { client in
            try await PlanWaiter(client: client, planID: id, options: waiting, json: global.json).run()
        }
        if code != ExitStatus.success { throw ExitCode(code) }
    }
}

/// `kinsta-ops plan show ID`.
struct PlanShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a plan and its steps.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The plan's ID.", valueName: "id")) var id: Int64

    func run() async throws {
        try await global.withClient { client in
            let (plan, raw) = try await client.get(PlanView.self, "/\(socketAPIVersion)/plans/\(id)")
            guard !global.json else { return Console.out(Format.rawJSON(raw)) }
            var block = KeyValueBlock()
            block.add("plan", "\(plan.id) \(plan.name)")
            block.add("state", Colour.states(in: plan.state))
            block.add("steps", PlanFormat.counts(plan))
            block.add("schedule", plan.schedule)
            block.add("submitted", Format.when(plan.createdAt) + (plan.submittedBy.map { " by uid \($0.uid)" } ?? ""))
            block.add("cancelled", plan.cancelledAt.map { Format.when($0) })
            block.add(
                "finished",
                plan.finishedAt.map {
                    Format.when($0) + " (after \(DurationText.format($0.timeIntervalSince(plan.createdAt))))"
                }
            )
            for line in block.render() { Console.out(line) }
            Console.out("")
            for line in PlanFormat.steps(plan) { Console.out(line) }
        }
    }
}

/// `kinsta-ops plan list`.
struct PlanListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List plans, newest first.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "At most this many.") var limit = 20

    func run() async throws {
        try await global.withClient { client in
            let (list, raw) = try await client.get(
                PlanListView.self,
                "/\(socketAPIVersion)/plans",
                query: [("limit", String(limit))]
            )
            guard !global.json else { return Console.out(Format.rawJSON(raw)) }
            guard !list.plans.isEmpty else { return Console.out("no plans") }
            var table = Table([
                .init("ID", alignment: .right), .init("NAME", maxWidth: 30), .init("STATE", states: true),
                .init("STEPS"), .init("SUBMITTED"), .init("SCHEDULE"),
            ])
            for plan in list.plans {
                table.append([
                    String(plan.id), plan.name, plan.state, PlanFormat.counts(plan), Format.when(plan.createdAt),
                    plan.schedule ?? "",
                ])
            }
            for line in table.render() { Console.out(line) }
        }
    }
}

/// `kinsta-ops plan cancel ID`.
struct PlanCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel what of a plan has not been submitted yet; steps already at Kinsta go on."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The plan's ID.", valueName: "id")) var id: Int64

    func run() async throws {
        try await global.withClient { client in
            let (plan, raw, _) = try await client.post(PlanView.self, "/\(socketAPIVersion)/plans/\(id)/cancel")
            guard !global.json else { return Console.out(Format.rawJSON(raw)) }
            Console.out("plan \(plan.id) \(plan.name) \(Colour.states(in: plan.state)): \(PlanFormat.counts(plan))")
        }
    }
}

/// Follows a plan until it ends.
struct PlanWaiter {
    let client: DaemonClient
    let planID: Int64
    let options: WaitOptions
    let json: Bool

    func run() async throws -> Int32 {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = options.timeout.map { start + .milliseconds(Int64($0 * 1000)) }
        let live = !json && Terminal.isTTY(STDOUT_FILENO)
        var seen: [String: String] = [:]
        var drawn = 0
        var unreachableSince: ContinuousClock.Instant?
        while true {
            let answer: (value: PlanView, raw: Data)
            do {
                answer = try await client.get(PlanView.self, "/\(socketAPIVersion)/plans/\(planID)")
                unreachableSince = nil
            } catch {
                guard error.isUnreachable else { throw error }
                let since = unreachableSince ?? clock.now
                unreachableSince = since
                if clock.now - since > JobWaiter.unreachableGrace { throw error }
                try await Task.sleep(for: .seconds(1))
                continue
            }
            let plan = answer.value
            if live {
                let lines = PlanFormat.steps(plan)
                if drawn > 0 { Console.raw("\u{1B}[\(drawn)A") }
                for line in lines { Console.raw("\r\u{1B}[2K" + line + "\n") }
                drawn = lines.count
                Console.flush()
            } else if !json {
                for step in plan.steps where seen[step.step] != step.state {
                    seen[step.step] = step.state
                    var line = "\(step.step) (job \(step.jobID), \(step.kind)) " + Colour.states(in: step.state)
                    if ["failed", "timed_out", "needs_attention", "skipped"].contains(step.state),
                        let error = step.lastError
                    {
                        line += ": " + Format.oneLine(error)
                    }
                    Console.out(line)
                }
                Console.flush()
            }
            if let finished = plan.finishedAt {
                if json {
                    Console.out(Format.rawJSON(answer.raw))
                } else {
                    Console.out(
                        "plan \(plan.id) \(plan.name) \(Colour.states(in: plan.state)) after "
                            + "\(DurationText.format(finished.timeIntervalSince(plan.createdAt))): "
                            + PlanFormat.counts(plan)
                    )
                }
                switch plan.state {
                case "succeeded": return ExitStatus.success
                case "cancelled": return ExitStatus.cancelled
                default: return ExitStatus.failure
                }
            }
            if let deadline, clock.now >= deadline {
                Console.error(
                    "kinsta-ops: gave up waiting for plan \(planID) after \(DurationText.format(clock.now - start)) "
                        + "(\(PlanFormat.counts(plan))); it goes on in the daemon"
                )
                return ExitStatus.waitTimeout
            }
            var pause = Duration.milliseconds(Int64(options.interval * 1000))
            if let deadline { pause = min(pause, max(.milliseconds(10), deadline - clock.now)) }
            try await Task.sleep(for: pause)
        }
    }
}

/// How plans are printed.
enum PlanFormat {
    /// `2 succeeded, 1 running, 3 waiting`, in the order states are reached.
    static func counts(_ plan: PlanView) -> String {
        let order = JobState.allCases.map(\.rawValue)
        return plan.counts.sorted { (order.firstIndex(of: $0.key) ?? 99) < (order.firstIndex(of: $1.key) ?? 99) }
            .map { "\($0.value) \($0.key.replacing("_", with: " "))" }.joined(separator: ", ")
    }

    /// One line a step: id, job, kind, state, what it comes after, its outputs or last error.
    static func steps(_ plan: PlanView) -> [String] {
        var table = Table([
            .init("STEP", maxWidth: 24), .init("JOB", alignment: .right), .init("KIND"), .init("STATE", states: true),
            .init("AFTER", maxWidth: 24), .init("DETAIL"),
        ])
        for step in plan.steps {
            var detail = ""
            if let outputs = step.outputs, !outputs.isEmpty {
                detail = outputs.sorted { $0.key < $1.key }.map { "\($0.key)=\(JSONValue.plainText($0.value))" }
                    .joined(separator: " ")
            } else if step.state != "succeeded", let error = step.lastError {
                detail = Format.oneLine(error)
            }
            table.append([
                step.step, String(step.jobID), step.kind, step.state, step.after.joined(separator: ","),
                Format.truncate(detail, to: 80),
            ])
        }
        return table.render()
    }
}
