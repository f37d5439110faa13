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

/// `kinsta-ops submit KIND …` — `POST /v1/jobs` with a ``SubmitJobRequest``.
///
/// Parameters are not checked here beyond their syntax: whatever is given is sent, and the daemon, which owns the
/// kinds' rules, answers 422 naming the field at fault.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job to the daemon.",
        discussion: discussion
    )

    /// The help text after the options: every kind with its parameters, and how to pass the admin password.
    static var discussion: String {
        let indent = 21
        let kinds = JobKind.allCases.map { kind in
            let names = kind.spec.parameters.map {
                $0.name + ($0.required && !$0.defaultsToCompany && $0.defaultValue == nil ? "*" : "")
            }
            // Wrapped here with a hanging indent: the help renderer would wrap at column 0.
            var lines = ["  " + kind.rawValue.padding(toLength: indent - 2, withPad: " ", startingAt: 0)]
            for (index, name) in names.enumerated() {
                let item = name + (index < names.count - 1 ? "," : "")
                if lines[lines.count - 1].count + item.count + 1 > 78 {
                    lines.append(String(repeating: " ", count: indent))
                }
                let current = lines[lines.count - 1]
                lines[lines.count - 1] = current + (current.count > indent ? " " : "") + item
            }
            return lines.joined(separator: "\n")
        }
        return """
            Kinds and their parameters (Kinsta's names; * = required; company defaults to the daemon's configured \
            company):
            \(kinds.joined(separator: "\n"))

            Each parameter has a flag of the same name in kebab case (--display-name, --backup-id, …); \
            --param NAME=VALUE sets any parameter by Kinsta's name. A VALUE of true, false or a number is sent as \
            such (--param backup_id=123 sends 123); anything else is sent as a string; a JSON string in quotes \
            forces a string (--param 'display_name="2024"'). The daemon checks the parameters and names the one at \
            fault.

            The WordPress admin password (site.create): --admin-password is visible to other users in `ps`, so \
            prefer --admin-password-file PATH (first line; - reads standard input) or the environment variable \
            KINSTA_ADMIN_PASSWORD. When none is given and standard input is a terminal, kinsta-ops asks for it \
            without echo.

            Prints `job ID STATE (KIND)`, or the job's JSON with --json. With --wait, then waits like \
            `kinsta-ops wait ID` and exits with its code.
            """
    }

    @OptionGroup var global: GlobalOptions

    @Argument(
        help: ArgumentHelp(
            "The job kind: \(JobKind.allCases.map(\.rawValue).joined(separator: ", ")).",
            valueName: "kind"
        ),
        completion: .list(JobKind.allCases.map(\.rawValue))
    )
    var kind: String

    // MARK: Kinsta's parameters, one flag each

    @Option(help: paramHelp("company")) var company: String?
    @Option(help: paramHelp("display_name")) var displayName: String?
    @Option(help: paramHelp("region")) var region: String?
    @Option(help: paramHelp("admin_email")) var adminEmail: String?
    @Option(help: paramHelp("admin_password", extra: "visible in `ps`; prefer --admin-password-file"))
    var adminPassword: String?
    @Option(
        help: ArgumentHelp(
            "Read the WordPress admin password from the first line of this file (- for stdin).",
            valueName: "path"
        )
    )
    var adminPasswordFile: String?
    @Option(help: paramHelp("admin_user")) var adminUser: String?
    @Option(help: paramHelp("site_title")) var siteTitle: String?
    @Option(help: paramHelp("wp_language")) var wpLanguage: String?
    @Flag(inversion: .prefixedNo, help: paramHelp("is_multisite")) var isMultisite: Bool?
    @Flag(inversion: .prefixedNo, help: paramHelp("is_subdomain_multisite")) var isSubdomainMultisite: Bool?
    @Flag(inversion: .prefixedNo, help: paramHelp("woocommerce")) var woocommerce: Bool?
    @Flag(inversion: .prefixedNo, help: paramHelp("wordpressseo")) var wordpressseo: Bool?
    @Option(help: paramHelp("install_mode")) var installMode: String?
    @Option(help: paramHelp("source_env_id")) var sourceEnvId: String?
    @Option(help: paramHelp("site_id")) var siteId: String?
    @Option(help: paramHelp("target_env_id")) var targetEnvId: String?
    @Option(help: paramHelp("backup_id")) var backupId: Int64?
    @Option(help: paramHelp("notified_user_id")) var notifiedUserId: String?
    @Option(help: paramHelp("env_display_name_of_backup")) var envDisplayNameOfBackup: String?

    // MARK: Everything else

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

    @Flag(help: "Wait for the job to finish, like `kinsta-ops wait` (same exit codes).")
    var wait = false

    @OptionGroup var waiting: WaitOptions

    func validate() throws {
        for entry in rawParams { _ = try Self.parseParam(entry) }
        if adminPassword != nil && adminPasswordFile != nil {
            throw ArgumentParser.ValidationError("give --admin-password or --admin-password-file, not both")
        }
        if waiting.timeout != nil && !wait {
            throw ArgumentParser.ValidationError("--timeout needs --wait")
        }
        if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.contains(where: { $0.isNewline }) {
            throw ArgumentParser.ValidationError("--idempotency-key must be a non-empty single line")
        }
    }

    func run() async throws {
        let code = try await global.withClient { client in
            let params = try collectParams()
            let body: Data
            do {
                body = try WireJSON.encoder().encode(SubmitJobRequest(kind: kind, params: params, note: note))
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

    /// The parameters to send: named flags, then `--param` entries (a different value for the same name is a usage
    /// error), then the admin password from its file, the environment or a prompt.
    ///
    /// - Throws: ``CLIError`` (exit 2) for conflicting values or an unreadable password file.
    func collectParams() throws(CLIError) -> [String: JSONValue] {
        var params: [String: JSONValue] = [:]
        var sources: [String: String] = [:]
        func set(_ name: String, _ value: JSONValue, from source: String) throws(CLIError) {
            if let existing = params[name], existing != value, let previous = sources[name] {
                throw CLIError.usage("\(source) conflicts with \(previous)")
            }
            params[name] = value
            sources[name] = source
        }
        for (name, value) in namedParams() {
            try set(name, value, from: "--" + name.replacingOccurrences(of: "_", with: "-"))
        }
        for entry in rawParams {
            guard let (name, value) = try? Self.parseParam(entry) else { continue }  // checked in validate()
            try set(name, value, from: "--param \(name)")
        }
        if let file = adminPasswordFile {
            try set("admin_password", .string(try Self.readPasswordFile(file)), from: "--admin-password-file")
        } else if params["admin_password"] == nil, let secret = try secretFromEnvironmentOrPrompt(params: params) {
            params["admin_password"] = .string(secret)
        }
        return params
    }

    /// The flags named after Kinsta's parameters that were given, as `(name, value)`.
    func namedParams() -> [(String, JSONValue)] {
        let texts: [(String, String?)] = [
            ("company", company), ("display_name", displayName), ("region", region), ("admin_email", adminEmail),
            ("admin_password", adminPassword), ("admin_user", adminUser), ("site_title", siteTitle),
            ("wp_language", wpLanguage), ("install_mode", installMode), ("source_env_id", sourceEnvId),
            ("site_id", siteId), ("target_env_id", targetEnvId), ("notified_user_id", notifiedUserId),
            ("env_display_name_of_backup", envDisplayNameOfBackup),
        ]
        let flags: [(String, Bool?)] = [
            ("is_multisite", isMultisite), ("is_subdomain_multisite", isSubdomainMultisite),
            ("woocommerce", woocommerce), ("wordpressseo", wordpressseo),
        ]
        var out = texts.compactMap { name, value in value.map { (name, JSONValue.string($0)) } }
        out += flags.compactMap { name, value in value.map { (name, JSONValue.bool($0)) } }
        if let backupId { out.append(("backup_id", .integer(backupId))) }
        return out
    }

    /// The admin password for a kind that takes one: `KINSTA_ADMIN_PASSWORD`, else a no-echo prompt (twice) when
    /// the kind requires it and stdin is a terminal; `nil` otherwise (the daemon then says what is missing).
    private func secretFromEnvironmentOrPrompt(params: [String: JSONValue]) throws(CLIError) -> String? {
        guard let spec = JobKind(rawValue: kind)?.spec.parameters.first(where: { $0.name == "admin_password" }) else {
            return nil
        }
        if let value = ProcessInfo.processInfo.environment["KINSTA_ADMIN_PASSWORD"], !value.isEmpty {
            return value
        }
        guard spec.required, Terminal.isTTY(STDIN_FILENO) else { return nil }
        let site = params["display_name"]?.stringValue.map { " for \($0)" } ?? ""
        guard let first = Terminal.readSecret(prompt: "WordPress admin password\(site): "), !first.isEmpty else {
            throw CLIError.usage("no admin password given")
        }
        guard let second = Terminal.readSecret(prompt: "Retype it: "), second == first else {
            throw CLIError.usage("the two passwords do not match")
        }
        return first
    }

    /// The first line of `path` (`-` = stdin), without its line break.
    static func readPasswordFile(_ path: String) throws(CLIError) -> String {
        let text: String
        if path == "-" {
            guard let line = readLine(strippingNewline: true) else {
                throw CLIError.usage("--admin-password-file -: nothing on standard input")
            }
            text = line
        } else {
            // Read through a handle, so pipes and process substitutions (`<(pass show …)`) work too.
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw CLIError.usage("cannot read --admin-password-file \(path)")
            }
            defer { try? handle.close() }
            do {
                text = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
            } catch {
                throw CLIError.usage("cannot read --admin-password-file \(path)")
            }
        }
        // `\r\n` is one Character, and a newline like `\n`.
        let password = String(text.prefix { !$0.isNewline })
        guard !password.isEmpty else { throw CLIError.usage("--admin-password-file \(path) holds no password") }
        return password
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

    /// A flag's help: the parameter's own help line from the kinds' specs, and the kinds that take it.
    static func paramHelp(_ name: String, extra: String? = nil) -> ArgumentHelp {
        let kinds = JobKind.allCases.filter { $0.spec.parameters.contains { $0.name == name } }
        let spec = kinds.first?.spec.parameters.first { $0.name == name }
        var text = spec?.help ?? name
        if let extra { text += "; \(extra)" }
        text += " [\(kinds.map(\.rawValue).joined(separator: ", "))]"
        let valueName: String
        switch spec?.type {
        case .integer: valueName = "n"
        case .email: valueName = "email"
        case .oneOf(let allowed): valueName = allowed.joined(separator: "|")
        default: valueName = name.replacingOccurrences(of: "_", with: "-")
        }
        return ArgumentHelp(text, valueName: valueName)
    }
}
