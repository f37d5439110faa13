import ArgumentParser
import Foundation
import OpsCore

/// `kinsta-ops`: the admin's and scripts' command line to `kinsta-opsd`, over its Unix socket only.
///
/// The entry point parses like `AsyncParsableCommand.main()` does, with one difference: a usage error (bad flag,
/// missing argument, failed validation) exits with 2, the code the CLI documents for "usage or bad request", rather
/// than ArgumentParser's default `EX_USAGE` (64). And the options every command takes may come before the command's
/// name (``GlobalOptions/hoisted(_:)``).
@main
struct KinstaOps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinsta-ops",
        abstract: "Submit, inspect and follow Kinsta jobs carried out by the kinsta-opsd daemon.",
        discussion: """
            Talks only to the daemon's Unix socket: --socket PATH, else $KINSTA_OPS_SOCKET, else $KINSTA_OPSD_SOCKET, \
            else \(GlobalOptions.defaultSocketPath). Human tables by default, --json for the daemon's own JSON.

            Exit codes: 0 ok / job succeeded, 1 job failed or daemon error (5xx, unexpected answer), \
            2 usage error or request refused (4xx), 3 daemon unreachable, 4 job timed out, 5 job needs attention, \
            6 job cancelled, 7 job skipped (one it came after did not succeed), 124 --timeout of wait expired.
            """,
        version: "kinsta-ops \(OpsVersion.current)",
        subcommands: [
            SubmitCommand.self, KindsCommand.self, JobsCommand.self, ShowCommand.self, WaitCommand.self,
            HistoryCommand.self, PlanCommand.self, SchedulesCommand.self,
            CancelCommand.self, RetryCommand.self, ApproveCommand.self, HealthCommand.self, SitesCommand.self,
            EnvironmentsCommand.self,
            BackupsCommand.self, DownloadableBackupsCommand.self, DomainsCommand.self, UsersCommand.self,
            RegionsCommand.self, ActivityCommand.self, DeliveriesCommand.self, RedeliverCommand.self,
        ]
    )

    /// Parses the command line, runs the chosen command and exits with its code.
    static func main() async {
        // `submit KIND --help`: the kind's own flags, which the parser does not know (they come from the catalog).
        let arguments = GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst()))
        if arguments.count >= 3, arguments[0] == "submit", let kind = JobKind(rawValue: arguments[1]),
            arguments.dropFirst(2).prefix(while: { $0 != "--" }).contains(where: { $0 == "--help" || $0 == "-h" })
        {
            Console.out(SubmitCommand.help(for: kind))
            Foundation.exit(ExitStatus.success)
        }
        if let first = arguments.first, !first.hasPrefix("-") {
            let names = configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
            if !names.contains(first) {
                CLIError.usage(
                    "unknown command \(first)" + Suggestion.hint(for: first, among: names)
                        + "; `kinsta-ops --help` lists the commands"
                ).report(json: arguments.contains("--json"))
                Foundation.exit(ExitStatus.usage)
            }
        }
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                // One style for every error: `kinsta-ops: …`, then where the options are described.
                var message = self.message(for: error)
                if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
                let json = arguments.contains("--json")
                CLIError.usage(message).report(json: json)
                let command = arguments.first { !$0.hasPrefix("-") }.map { " \($0)" } ?? ""
                if !json { Console.dimError("(`kinsta-ops\(command) --help` describes the options)") }
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}
