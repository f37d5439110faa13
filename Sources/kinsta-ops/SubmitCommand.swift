import ArgumentParser
import CurlHTTP
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

/// `kinsta-ops submit KIND [--PARAM VALUE …]` — `POST /v1/jobs` with a ``SubmitJobRequest``.
///
/// The flags after the kind come from the kind's declaration in the catalog (``JobCatalog``): one per parameter, in
/// kebab case. `kinsta-ops submit KIND --help` lists that kind's flags only. Values are converted to the parameter's
/// JSON type here; everything else is left to the daemon, which owns the kinds' rules and answers 422 naming the
/// field at fault.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job to the daemon.",
        discussion: discussion
    )

    /// The help text after the options: every kind with its summary, and how parameters are given.
    static var discussion: String {
        let width = (JobKind.allCases.map(\.rawValue.count).max() ?? 0) + 2
        let kinds = JobCatalog.specs.map {
            "  " + $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + $0.summary
        }
        return """
            Kinds (`kinsta-ops submit KIND --help` shows a kind's flags; `kinsta-ops kinds` describes them all):
            \(kinds.joined(separator: "\n"))

            Each parameter of the kind has a flag of its name in kebab case (--display-name, --env-id, …); a boolean \
            is --flag or --no-flag; a list repeats its flag. --param NAME=VALUE sets any parameter by Kinsta's name: \
            a VALUE of true, false or a number is sent as such, anything else as a string, and a JSON string in \
            quotes forces a string (--param 'display_name="2024"').

            Secrets (admin_password, an SFTP password, an SSL key) are visible to other users in `ps` when given as \
            flags: prefer --NAME-file PATH (first line; - reads standard input; an SSL key's whole file), or, for the \
            WordPress admin password, the environment variable KINSTA_ADMIN_PASSWORD. A required secret that is not \
            given is asked for without echo when standard input is a terminal.

            Prints `job ID STATE (KIND)`, or the job's JSON with --json. With --wait, then waits like \
            `kinsta-ops wait ID` and exits with its code.
            """
    }

    /// `kinsta-ops submit KIND --help`: the kind's own flags.
    static func help(for kind: JobKind) -> String {
        let spec = kind.spec
        var lines = [
            "\(spec.name): \(spec.summary)",
            "",
            "USAGE: kinsta-ops submit \(spec.name) [<flags>] [--note <text>] [--idempotency-key <key>] [--wait]",
            "",
            "Kinsta call: \(spec.method) \(spec.pathTemplate)",
            "Occupies: \(spec.targets.map(\.summary).joined(separator: ", "))",
            "If its answer is lost: \(spec.settle.summary)",
        ]
        if !spec.outputs.isEmpty {
            lines.append("Outputs: " + spec.outputs.map { "\($0.name) (\($0.help))" }.joined(separator: ", "))
        }
        lines += ["", "FLAGS (* = required):"]
        for param in spec.parameters {
            let flag = KindFlags.flag(param)
            var text = param.help
            if let value = param.defaultValue { text += " [default: \(JSONValue.plainText(value))]" }
            if param.configured != nil { text += " [default: from the configuration]" }
            let mark = param.required && param.defaultValue == nil && param.configured == nil ? "*" : " "
            lines.append("  \(mark) " + flag.padding(toLength: 40, withPad: " ", startingAt: 0) + " " + text)
            if param.secret {
                lines.append(
                    "    --\(KindFlags.kebab(param.name))-file <path>".padding(
                        toLength: 43,
                        withPad: " ",
                        startingAt: 0
                    )
                        + " Read it from a file (- for stdin)"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    @OptionGroup var global: GlobalOptions

    @Argument(
        help: ArgumentHelp("The job kind (`kinsta-ops kinds` lists them).", valueName: "kind"),
        completion: .list(JobKind.allCases.map(\.rawValue))
    )
    var kind: String

    @Option(
        name: .customLong("param"),
        help: ArgumentHelp("Set any parameter by Kinsta's name (repeatable).", valueName: "name=value")
    )
    var rawParams: [String] = []

    @Option(help: ArgumentHelp("A free-text note kept with the job.", valueName: "text"))
    var note: String?

    @Option(
        help: ArgumentHelp(
            "Submitting again with the same key and body returns the original job instead of a new one.",
            valueName: "key"
        )
    )
    var idempotencyKey: String?

    @Option(
        help: ArgumentHelp(
            "Start only after this job succeeded (repeatable); skipped if it ends any other way.",
            valueName: "id"
        )
    )
    var after: [Int64] = []

    @Option(
        name: .customLong("from"),
        help: ArgumentHelp(
            "Take a parameter from an earlier job's outputs once it succeeded: NAME=JOB.OUTPUT, e.g. "
                + "environment_id=12.env_id (repeatable; the job counts as an --after).",
            valueName: "name=job.output"
        )
    )
    var fromOutputs: [String] = []

    @Flag(help: "Store the job held, until `kinsta-ops approve ID`.")
    var hold = false

    @Option(help: ArgumentHelp("-10 … 10 (default 0): the order of claims under the shared budget.", valueName: "n"))
    var priority: Int?

    @Flag(help: "Wait for the job to finish, like `kinsta-ops wait` (same exit codes).")
    var wait = false

    @OptionGroup var waiting: WaitOptions

    /// The kind's own flags (`--display-name X`, `--woocommerce`), read against its declaration in ``run()``.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var kindArguments: [String] = []

    func validate() throws {
        for entry in rawParams { _ = try Self.parseParam(entry) }
        for entry in fromOutputs { _ = try Self.parseReference(entry) }
        if let priority, !(-10...10).contains(priority) {
            throw ArgumentParser.ValidationError("--priority is a whole number from -10 to 10")
        }
        if let bad = after.first(where: { $0 < 1 }) {
            throw ArgumentParser.ValidationError("--after \(bad): a job ID is a positive number")
        }
        if waiting.timeout != nil && !wait {
            throw ArgumentParser.ValidationError("--timeout needs --wait")
        }
        if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.contains(where: { $0.isNewline }) {
            throw ArgumentParser.ValidationError("--idempotency-key must be a non-empty single line")
        }
    }

    func run() async throws {
        let params: [String: JSONValue]
        do {
            params = try collectParams()
        } catch {
            error.report(json: global.json)
            throw ExitCode(error.exitCode)
        }
        let code = try await global.withClient { client in
            let body: Data
            do {
                body = try WireJSON.encoder().encode(
                    SubmitJobRequest(
                        kind: kind,
                        params: params,
                        note: note,
                        after: after.isEmpty ? nil : after,
                        hold: hold ? true : nil,
                        priority: priority
                    )
                )
            } catch {
                throw CLIError(message: "kinsta-ops: cannot encode the request: \(error)", exitCode: ExitStatus.failure)
            }
            let headers = idempotencyKey.map { [HTTPHeader("Idempotency-Key", $0)] } ?? []
            let (job, raw, status) = try await client.post(
                JobView.self,
                "/\(socketAPIVersion)/jobs",
                body: body,
                headers: headers
            )
            if !global.json {
                let replay = status == 200 ? " — already submitted with this idempotency key" : ""
                Console.out("job \(job.id) \(job.state) (\(job.kind))\(replay)")
                Console.flush()
            } else if !wait {
                Console.out(Format.rawJSON(raw))
            }
            guard wait else { return ExitStatus.success }
            return try await JobWaiter(client: client, jobID: job.id, options: waiting, json: global.json).run()
        }
        if code != ExitStatus.success { throw ExitCode(code) }
    }

    /// The parameters to send: the kind's flags, then `--param` entries (a different value for the same name is a
    /// usage error), then secrets from the environment or a prompt.
    ///
    /// - Throws: ``CLIError`` (exit 2) for an unknown kind or flag, a value of the wrong form, conflicting values or
    ///   an unreadable secret file.
    func collectParams() throws(CLIError) -> [String: JSONValue] {
        guard let kind = JobKind(rawValue: kind) else {
            throw CLIError.usage(
                "unknown kind \(self.kind)" + Suggestion.hint(for: self.kind, among: JobKind.allCases.map(\.rawValue))
                    + "; `kinsta-ops kinds` lists them"
            )
        }
        var params = try KindFlags(kind: kind).parse(kindArguments)
        for entry in rawParams {
            guard let (name, value) = try? Self.parseParam(entry) else { continue }  // checked in validate()
            if let existing = params[name], existing != value {
                throw CLIError.usage("--param \(name) conflicts with --\(KindFlags.kebab(name))")
            }
            params[name] = value
        }
        for entry in fromOutputs {
            guard let (name, reference) = try? Self.parseReference(entry) else { continue }  // checked in validate()
            if params[name] != nil {
                throw CLIError.usage("--from \(name) conflicts with a value given for it")
            }
            params[name] = reference.json
        }
        for param in kind.spec.parameters where param.secret && params[param.name] == nil {
            if let secret = try secretFromEnvironmentOrPrompt(param, params: params) {
                params[param.name] = .string(secret)
            }
        }
        return params
    }

    /// `NAME=JOB.OUTPUT` (`environment_id=12.env_id`): the parameter and the output it is taken from.
    static func parseReference(_ entry: String) throws -> (String, OutputReference) {
        let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
        let source = parts.count == 2 ? parts[1].split(separator: ".", maxSplits: 1).map(String.init) : []
        guard parts.count == 2, !parts[0].isEmpty, source.count == 2, let job = Int64(source[0]), job >= 1,
            !source[1].isEmpty
        else {
            throw ArgumentParser.ValidationError(
                "--from takes NAME=JOB.OUTPUT, e.g. environment_id=12.env_id (not \(entry))"
            )
        }
        return (parts[0].replacingOccurrences(of: "-", with: "_"), OutputReference(job: job, output: source[1]))
    }

    /// A secret the flags did not give: `KINSTA_ADMIN_PASSWORD` for the WordPress admin password, else a no-echo
    /// prompt (twice) when the kind requires it and stdin is a terminal; `nil` otherwise (the daemon then says what
    /// is missing).
    private func secretFromEnvironmentOrPrompt(
        _ param: ParamSpec,
        params: [String: JSONValue]
    ) throws(CLIError)
        -> String?
    {
        if param.name == "admin_password", let value = ProcessInfo.processInfo.environment["KINSTA_ADMIN_PASSWORD"],
            !value.isEmpty
        {
            return value
        }
        guard param.required, Terminal.isTTY(STDIN_FILENO) else { return nil }
        let subject = params[JobKind(rawValue: kind)?.spec.subject ?? ""]?.stringValue.map { " for \($0)" } ?? ""
        let label = param.name == "admin_password" ? "WordPress admin password" : param.name
        guard let first = Terminal.readSecret(prompt: "\(label)\(subject): "), !first.isEmpty else {
            throw CLIError.usage("no \(param.name) given")
        }
        guard let second = Terminal.readSecret(prompt: "Retype it: "), second == first else {
            throw CLIError.usage("the two values do not match")
        }
        return first
    }

    /// The first line of `path` (`-` = stdin), without its line break; with `wholeFile`, all of it (an SSL key).
    static func readSecretFile(_ path: String, flag: String, wholeFile: Bool = false) throws(CLIError) -> String {
        let text: String
        if path == "-" {
            guard let line = readLine(strippingNewline: true) else {
                throw CLIError.usage("\(flag) -: nothing on standard input")
            }
            text = line
        } else {
            // Read through a handle, so pipes and process substitutions (`<(pass show …)`) work too.
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw CLIError.usage("cannot read \(flag) \(path)")
            }
            defer { try? handle.close() }
            do {
                text = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
            } catch {
                throw CLIError.usage("cannot read \(flag) \(path)")
            }
        }
        // `\r\n` is one Character, and a newline like `\n`.
        let secret = wholeFile ? text : String(text.prefix { !$0.isNewline })
        guard !secret.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw CLIError.usage("\(flag) \(path) holds nothing")
        }
        return secret
    }

    /// Splits `name=value`; the value is a JSON scalar when it reads as one (true, false, a number, a quoted
    /// string), else the text as it is.
    static func parseParam(_ entry: String) throws -> (String, JSONValue) {
        guard let equals = entry.firstIndex(of: "=") else {
            throw ArgumentParser.ValidationError("--param needs NAME=VALUE, got '\(entry)'")
        }
        let name = String(entry[..<equals]).trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else {
            throw ArgumentParser.ValidationError("--param needs a name before '=', got '\(entry)'")
        }
        let text = String(entry[entry.index(after: equals)...])
        return (name, scalar(text))
    }

    /// `true`/`false` → boolean, a JSON number → number, a JSON string in quotes → that string, else the text.
    static func scalar(_ text: String) -> JSONValue {
        let looksLikeJSON =
            text == "true" || text == "false" || text.hasPrefix("\"")
            || text.first.map { $0 == "-" || $0.isASCII && $0.isNumber } == true
        guard looksLikeJSON, let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            return .string(text)
        }
        switch value {
        case .bool, .integer, .number, .string: return value
        case .null, .array, .object: return .string(text)
        }
    }
}
