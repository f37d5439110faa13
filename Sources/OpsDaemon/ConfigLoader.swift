public import Foundation
import KinstaClient
import Logging
public import OpsCore
import OpsWebhooks
import TOMLKit

#if canImport(Glibc)
import Glibc
#endif

/// A configuration problem, with the file, key and line when it comes from the file.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads the TOML file, then the environment and systemd credentials, into a checked ``DaemonConfiguration``.
///
/// Rules: a key the daemon does not know is an error (a typo must not silently become a default); a value of the
/// wrong type or range names its key and line; with no file at the default path, the environment alone is enough;
/// a file named with `--config` must exist.
public struct ConfigLoader: Sendable {
    public static let defaultPath = "/etc/kinsta-opsd/kinsta-opsd.toml"

    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Loads `path` (or the default path, which may be absent) and applies the environment.
    public func load(path: String?) throws -> DaemonConfiguration {
        let filePath = path ?? Self.defaultPath
        var file: ConfigFile?
        if FileManager.default.fileExists(atPath: filePath) {
            guard let data = FileManager.default.contents(atPath: filePath) else {
                throw ConfigError("\(filePath): cannot be read (check its permissions)")
            }
            file = try ConfigFile(text: String(decoding: data, as: UTF8.self), path: filePath)
        } else if path != nil {
            throw ConfigError("\(filePath): no such file")
        }
        return try build(file ?? ConfigFile.empty(path: filePath))
    }

    private func build(_ file: ConfigFile) throws -> DaemonConfiguration {
        typealias Key = ConfigKeys
        let env = { (name: String) -> String? in
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }
        // [kinsta]
        let baseURL =
            try env("KINSTA_API_BASE_URL") ?? file.read(Key.apiBaseURL)
        guard let url = URL(string: baseURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ConfigError("\(Key.apiBaseURL.dotted) must be an http(s) URL, not \(baseURL)")
        }
        let company =
            try env("KINSTA_COMPANY_ID") ?? (file.read(Key.companyID)).flatMap { $0.isEmpty ? nil : $0 }
        let notifiedUser =
            try env("KINSTA_NOTIFIED_USER_ID") ?? (file.read(Key.notifiedUserID)).flatMap { $0.isEmpty ? nil : $0 }
        if let notifiedUser, !ParamSpec.isUUID(notifiedUser) {
            throw ConfigError(
                "\(Key.notifiedUserID.dotted) must be a UUID (`kinsta-ops users` lists them), not \(notifiedUser)"
            )
        }
        let restoreBody = try file.read(Key.restoreBody)
        guard ["current", "legacy"].contains(restoreBody) else {
            throw ConfigError("\(Key.restoreBody.dotted) must be \"current\" or \"legacy\", not \(restoreBody)")
        }
        let timeout = try file.read(Key.requestTimeout)
        let caFile = (try file.read(Key.caFile)).flatMap { $0.isEmpty ? nil : $0 }
        let perMinute = try file.read(Key.requestsPerMinute)
        let burst = try file.read(Key.requestBurst)
        let (apiKey, keySource, keyWarnings) = try apiKey(file)

        // [daemon]
        let stateDir =
            try env("KINSTA_OPSD_STATE_DIR") ?? (file.read(Key.stateDir))
            ?? env("STATE_DIRECTORY")?.split(separator: ":").first.map(String.init) ?? "/var/lib/kinsta-opsd"
        let runtimeDir = env("RUNTIME_DIRECTORY")?.split(separator: ":").first.map(String.init) ?? "/run/kinsta-opsd"
        let socket =
            try env("KINSTA_OPSD_SOCKET") ?? (file.read(Key.socket)) ?? runtimeDir + "/kinsta-opsd.sock"
        guard socket.utf8.count < 108 else {
            throw ConfigError(
                "\(Key.socket.dotted) is \(socket.utf8.count) bytes long; a Unix socket path must be under 108"
            )
        }
        let modeText = try file.read(Key.socketMode)
        guard let mode = UInt16(modeText, radix: 8), mode <= 0o777 else {
            throw ConfigError(
                "\(Key.socketMode.dotted) must be an octal mode such as \"0660\"\(file.at(Key.socketMode))"
            )
        }
        let group = (try file.read(Key.socketGroup)).flatMap { $0.isEmpty ? nil : $0 }
        let levelText = try env("KINSTA_OPSD_LOG_LEVEL") ?? file.read(Key.logLevel)
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigError(
                "\(Key.logLevel.name) must be one of trace, debug, info, notice, warning, error, critical, not \(levelText)"
            )
        }
        let maxInFlight = try Int(file.read(Key.maxInFlight))
        let maxRequests = try Int(file.read(Key.maxConcurrentRequests))
        let grace = try file.read(Key.shutdownGrace)
        let idle = try file.read(Key.clientIdleTimeout)
        let maxConnections = try Int(file.read(Key.maxConnections))
        let allowedUIDs = try file.read(Key.allowedUIDs).map { UInt32($0) }
        var allowedGroups: [UInt32] = []
        for name in try file.read(Key.allowedGroups) {
            guard let entry = getgrnam(name) else {
                throw ConfigError("\(Key.allowedGroups.dotted): no group named \(name)\(file.at(Key.allowedGroups))")
            }
            allowedGroups.append(entry.pointee.gr_gid)
        }

        // [polling] and [deadlines]
        let jitter = try file.read(Key.jitter)
        var deadlines: [JobKind: Double] = [:]
        for kind in JobKind.allCases {
            if let seconds = try file.read(Key.deadline(kind)) {
                deadlines[kind] = seconds
            }
        }
        var graces: [JobKind: Double] = [:]
        for kind in JobKind.allCases {
            if let seconds = try file.read(Key.settleGrace(kind)) {
                graces[kind] = seconds
            }
        }
        let policy = PollPolicy(
            startupWindow: try file.read(Key.startupWindow),
            firstPollDelay: try file.read(Key.firstPoll),
            pollBackoff: Backoff(
                base: try file.read(Key.interval),
                multiplier: try file.read(Key.multiplier),
                cap: try file.read(Key.maxInterval),
                jitter: jitter
            ),
            errorBackoff: Backoff(
                base: try file.read(Key.errorBackoff),
                multiplier: 2,
                cap: try file.read(Key.errorBackoffMax),
                jitter: jitter
            ),
            confirmations: Int(try file.read(Key.confirmations)),
            confirmSpan: try file.read(Key.confirmSpan),
            deadlines: deadlines,
            adaptive: try adaptivePolling(file),
            settleGraces: graces
        )

        let retention = try file.read(Key.retentionDays)
        let (webhooks, webhookWarnings) = try file.webhooks()
        try file.rejectUnknownKeys()
        var configuration = DaemonConfiguration(
            kinsta: KinstaConfiguration(
                baseURL: baseURL,
                apiKey: apiKey,
                requestTimeout: .milliseconds(Int64(timeout * 1000)),
                caFile: caFile,
                userAgent: "kinsta-opsd/\(OpsVersion.current)"
            ),
            companyID: company,
            stateDirectory: stateDir,
            socketPath: socket,
            socketMode: mode,
            socketGroup: group,
            logLevel: level,
            maxInFlight: maxInFlight,
            maxConcurrentRequests: maxRequests,
            shutdownGrace: .milliseconds(Int64(grace * 1000)),
            clientIdleTimeout: idle,
            maxConnections: maxConnections,
            pollPolicy: policy,
            retentionDays: retention,
            allowedUIDs: allowedUIDs,
            allowedGroups: allowedGroups,
            warnings: keyWarnings + webhookWarnings,
            webhooks: webhooks,
            requestsPerMinute: perMinute,
            requestBurst: burst,
            apiKeySource: keySource
        )
        configuration.approvalKinds = try Set(
            file.read(Key.approvalKinds).map { name in
                guard let kind = JobKind(rawValue: name) else {
                    throw ConfigError(
                        "\(Key.approvalKinds.dotted): unknown kind \(name)"
                            + Suggestion.hint(for: name, among: JobKind.allCases.map(\.rawValue))
                            + file.at(Key.approvalKinds)
                    )
                }
                return kind
            }
        )
        configuration.distinctApprover = try file.read(Key.distinctApprover)
        configuration.notifiedUserID = notifiedUser
        configuration.legacyRestoreBody = restoreBody == "legacy"
        configuration.schedules = try file.schedules(
            defaults: configuration.paramDefaults,
            heldKinds: configuration.approvalKinds
        )
        configuration.apiKeyFile = (try file.read(Key.apiKeyFile)).flatMap { $0.isEmpty ? nil : $0 }
        return configuration
    }

    /// `[polling] adaptive*` keys: the learning schedule, on unless the file says otherwise.
    private func adaptivePolling(_ file: ConfigFile) throws -> AdaptivePolling {
        typealias Key = ConfigKeys
        let minSpacing = try file.read(Key.adaptiveMinInterval)
        let maxSpacing = try file.read(Key.adaptiveMaxInterval)
        guard minSpacing <= maxSpacing else {
            throw ConfigError(
                "\(Key.adaptiveMinInterval.dotted) (\(minSpacing)) is above \(Key.adaptiveMaxInterval.name) "
                    + "(\(maxSpacing))\(file.at(Key.adaptiveMinInterval))"
            )
        }
        return AdaptivePolling(
            enabled: try file.read(Key.adaptive),
            minSpacing: minSpacing,
            maxSpacing: maxSpacing,
            tradeoff: try file.read(Key.adaptiveTradeoff),
            history: Int(try file.read(Key.adaptiveHistory))
        )
    }

    /// The API key, in this order: systemd credential, `api_key_file`, `KINSTA_API_KEY`, a `kinsta-api-key` file beside
    /// the configuration file (where the README's service setup puts it, and the unit loads it as the credential:
    /// so `check-config` run by hand finds the key the service will use), inline `api_key` (only in a file of mode
    /// 0600 or stricter).
    private func apiKey(_ file: ConfigFile) throws -> (String, String, [String]) {
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let path = directory + "/kinsta-api-key"
            if let key = try Self.readKey(path) { return (key, "systemd credential kinsta-api-key", []) }
        }
        if let path = try file.read(ConfigKeys.apiKeyFile), !path.isEmpty {
            guard let key = try Self.readKey(path) else {
                throw ConfigError(
                    "\(ConfigKeys.apiKeyFile.dotted) \(path) does not exist\(file.at(ConfigKeys.apiKeyFile))"
                )
            }
            var warnings: [String] = []
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            if let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue, mode & 0o007 != 0 {
                warnings.append(
                    "the API key file \(path) is readable by other users (mode 0\(String(mode, radix: 8))); chmod o-rwx it"
                )
            }
            return (key, "api_key_file \(path)", warnings)
        }
        if let key = environment["KINSTA_API_KEY"], !key.isEmpty { return (key, "KINSTA_API_KEY", []) }
        let beside = URL(fileURLWithPath: file.path).deletingLastPathComponent().appendingPathComponent(
            "kinsta-api-key"
        )
        .path
        if try file.read(ConfigKeys.apiKey) == nil, let key = try Self.readKey(beside) {
            return (key, "\(beside) (beside the configuration)", [])
        }
        if let key = try file.read(ConfigKeys.apiKey), !key.isEmpty {
            if let mode = file.mode, mode & 0o077 != 0 {
                throw ConfigError(
                    "\(file.path) holds api_key but is readable by others (mode 0\(String(mode & 0o777, radix: 8))); "
                        + "chmod 600 it, or use api_key_file or a systemd credential"
                )
            }
            return (key, "api_key in \(file.path)", [])
        }
        throw ConfigError(
            "no Kinsta API key: set KINSTA_API_KEY, kinsta.api_key_file, a systemd credential named kinsta-api-key, "
                + "or put it in \(beside)"
        )
    }

    /// The permission bits of the file at `path`, if it can be read.
    static func mode(of path: String) -> Int? {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue
    }

    /// A key or secret kept in a file of its own: its text, trimmed; `nil` when the file does not exist.
    static func readKey(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("\(path): cannot be read")
        }
        let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !key.isEmpty else { throw ConfigError("\(path) is empty") }
        return key
    }

    /// The `[deadlines]` key of a kind: `site.create_plain` → `site_create_plain`.
    public static func deadlineKey(_ kind: JobKind) -> String {
        kind.rawValue.replacingOccurrences(of: ".", with: "_")
    }
}

/// A parsed TOML file that remembers which keys were read, so anything left over is an unknown key.
final class ConfigFile {
    /// Tables and their known keys: ``ConfigKeys/all``.
    static let schema = ConfigKeys.schema

    let path: String
    let root: TOMLTable
    let lines: [String: Int]
    /// The file's permission bits, when known.
    let mode: UInt16?

    init(text: String, path: String) throws {
        self.path = path
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(path):\(error.source.begin.line): \(error.description)")
        }
        lines = Self.keyLines(text)
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        mode = (attributes?[.posixPermissions] as? NSNumber).map { UInt16(truncating: $0) }
    }

    private init(emptyAt path: String) {
        self.path = path
        root = TOMLTable()
        lines = [:]
        mode = nil
    }

    static func empty(path: String) -> ConfigFile { ConfigFile(emptyAt: path) }

    /// ` (path line N)` for error messages, or nothing when the key is not in the file.
    func at(_ table: String, _ key: String) -> String {
        lines["\(table).\(key)"].map { " (\(path) line \($0))" } ?? ""
    }

    func at<Value>(_ key: ConfigKey<Value>) -> String { at(key.table, key.name) }

    /// A key as the table describes it: its type and range checked, its default when absent.
    func read(_ key: ConfigKey<String>) throws -> String { try string(key.table, key.name) ?? key.defaultValue }
    func read(_ key: ConfigKey<String?>) throws -> String? { try string(key.table, key.name) ?? key.defaultValue }
    func read(_ key: ConfigKey<Bool>) throws -> Bool { try bool(key.table, key.name) ?? key.defaultValue }
    func read(_ key: ConfigKey<Double>) throws -> Double {
        try number(key.table, key.name, in: key.range) ?? key.defaultValue
    }
    func read(_ key: ConfigKey<Double?>) throws -> Double? {
        try number(key.table, key.name, in: key.range) ?? key.defaultValue
    }
    func read(_ key: ConfigKey<[Int]>) throws -> [Int] { try integers(key.table, key.name) }
    func read(_ key: ConfigKey<[String]>) throws -> [String] { try strings(key.table, key.name) }

    private func value(_ table: String, _ key: String) throws -> (any TOMLValueConvertible)? {
        guard let entry = root[table] else { return nil }
        guard let section = entry.table else {
            throw ConfigError("\(path): \(table) must be a table ([\(table)])\(at(table, ""))")
        }
        return section[key]
    }

    private func string(_ table: String, _ key: String) throws -> String? {
        guard let value = try value(table, key) else { return nil }
        guard let text = value.string else {
            throw ConfigError("\(table).\(key) must be a string\(at(table, key))")
        }
        return text
    }

    private func bool(_ table: String, _ key: String) throws -> Bool? {
        guard let value = try value(table, key) else { return nil }
        guard let flag = value.bool else { throw ConfigError("\(table).\(key) must be true or false\(at(table, key))") }
        return flag
    }

    private func number(_ table: String, _ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let value = try value(table, key) else { return nil }
        guard let number = value.double ?? value.int.map(Double.init) else {
            throw ConfigError("\(table).\(key) must be a number\(at(table, key))")
        }
        guard range.contains(number) else {
            throw ConfigError(
                "\(table).\(key) must be from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))"
                    + at(table, key)
            )
        }
        return number
    }

    private func integers(_ table: String, _ key: String) throws -> [Int] {
        guard let value = try value(table, key) else { return [] }
        guard let array = value.array else {
            throw ConfigError("\(table).\(key) must be an array of numbers\(at(table, key))")
        }
        return try array.map { element in
            guard let number = element.int, number >= 0 else {
                throw ConfigError("\(table).\(key) must hold whole numbers ≥ 0\(at(table, key))")
            }
            return number
        }
    }

    private func strings(_ table: String, _ key: String) throws -> [String] {
        guard let value = try value(table, key) else { return [] }
        guard let array = value.array else {
            throw ConfigError("\(table).\(key) must be an array of strings\(at(table, key))")
        }
        return try array.map { element in
            guard let text = element.string else {
                throw ConfigError("\(table).\(key) must hold strings\(at(table, key))")
            }
            return text
        }
    }

    /// The `[[webhooks]]` entries, each checked, with warnings for secrets in a file others can read.
    func webhooks() throws -> ([WebhookEndpoint], [String]) {
        guard let entry = root["webhooks"] else { return ([], []) }
        guard let array = entry.array else { throw ConfigError("\(path): webhooks must be [[webhooks]] tables") }
        let known = Set(ConfigKeys.webhookKeys.map(\.name))
        var endpoints: [WebhookEndpoint] = []
        var warnings: [String] = []
        for index in 0..<array.count {
            let table = "webhooks#\(index + 1)"
            let place = { (key: String) in self.lines["\(table).\(key)"].map { " (\(self.path) line \($0))" } ?? "" }
            guard let webhook = array[index].table else {
                throw ConfigError("\(path): webhooks entries must be tables")
            }
            for key in webhook.keys.sorted() where !known.contains(key) {
                throw ConfigError(
                    "\(path): unknown key \(key) in [[webhooks]] #\(index + 1)\(place(key)); "
                        + "[[webhooks]] takes \(known.sorted().joined(separator: ", "))"
                )
            }
            func text(_ key: String) throws -> String? {
                guard let value = webhook[key] else { return nil }
                guard let text = value.string else {
                    throw ConfigError("webhooks #\(index + 1): \(key) must be a string\(place(key))")
                }
                return text
            }
            do {
                let name = try text("name") ?? "webhook-\(index + 1)"
                guard let url = try text("url") else {
                    throw ConfigError("webhooks #\(index + 1): url is required\(place("name"))")
                }
                let formatText = try text("format") ?? "standard"
                guard let format = WebhookFormat(rawValue: formatText) else {
                    throw ConfigError(
                        "webhooks #\(index + 1): format must be standard or slack, not \(formatText)\(place("format"))"
                    )
                }
                var secret: WebhookSecret?
                let secretFile = try text("secret_file")
                if secretFile != nil, webhook["secret"] != nil {
                    throw ConfigError(
                        "webhooks #\(index + 1): give secret or secret_file, not both\(place("secret_file"))"
                    )
                }
                var secretText = try text("secret")
                if let secretFile {
                    // A file of its own (mode 0640, group kinsta-opsd, say), so the configuration can stay 0644.
                    guard let read = try ConfigLoader.readKey(secretFile) else {
                        throw ConfigError(
                            "webhooks #\(index + 1): secret_file \(secretFile) does not exist\(place("secret_file"))"
                        )
                    }
                    secretText = read
                }
                if let secretText {
                    do { secret = try WebhookSecret(secretText) } catch {
                        throw ConfigError(
                            "webhooks #\(index + 1): \(error.message)\(place(secretFile == nil ? "secret" : "secret_file"))"
                        )
                    }
                }
                var events: Set<JobState>?
                var plans = true
                var schedules = true
                if let value = webhook["events"] {
                    guard let list = value.array, let names = Optional(list.compactMap(\.string)),
                        names.count == list.count
                    else {
                        throw ConfigError("webhooks #\(index + 1): events must be a list of strings\(place("events"))")
                    }
                    do {
                        let filter = try WebhookEndpoint.parseEvents(names)
                        (events, plans, schedules) = (filter.states, filter.plans, filter.schedules)
                    } catch {
                        throw ConfigError("webhooks #\(index + 1): \(error.message)\(place("events"))")
                    }
                }
                var headers: [String: String] = [:]
                if let value = webhook["headers"] {
                    guard let table = value.table else {
                        throw ConfigError(
                            "webhooks #\(index + 1): headers must be a table of strings\(place("headers"))"
                        )
                    }
                    for key in table.keys {
                        guard let header = table[key]?.string else {
                            throw ConfigError(
                                "webhooks #\(index + 1): header \(key) must be a string\(place("headers"))"
                            )
                        }
                        headers[key] = header
                    }
                }
                do throws(WebhookConfigError) {
                    endpoints.append(
                        try WebhookEndpoint(
                            name: name,
                            url: url,
                            secret: secret,
                            events: events,
                            format: format,
                            headers: headers,
                            plans: plans,
                            schedules: schedules
                        )
                    )
                } catch {
                    throw ConfigError("\(error.message)\(place("url"))")
                }
                guard endpoints.filter({ $0.name == name }).count == 1 else {
                    throw ConfigError(
                        "webhooks #\(index + 1): another webhook is already named \(name)\(place("name"))"
                    )
                }
                if secretFile == nil, secret != nil, let mode, mode & 0o077 != 0 {
                    warnings.append(
                        "\(path) holds the secret of webhook \(name) and is readable by others: move it to a "
                            + "secret_file (readable by the service only), or chmod 600 the configuration"
                    )
                }
                if let secretFile, let mode = ConfigLoader.mode(of: secretFile), mode & 0o007 != 0 {
                    warnings.append(
                        "webhook \(name)'s secret_file \(secretFile) is readable by every user; chmod o-rwx it"
                    )
                }
            }
        }
        return (endpoints, warnings)
    }

    /// Throws for the first table or key the daemon does not know.
    func rejectUnknownKeys() throws {
        for table in root.keys.sorted() where table != "webhooks" && table != "schedules" {
            guard let known = Self.schema[table] else {
                throw ConfigError(
                    "\(path): unknown table [\(table)]\(lines[table].map { " at line \($0)" } ?? ""); "
                        + "tables are \(Self.schema.keys.sorted().joined(separator: ", "))"
                )
            }
            guard let section = root[table]?.table else { continue }
            for key in section.keys.sorted() where !known.contains(key) {
                throw ConfigError(
                    "\(path): unknown key \(table).\(key)\(lines["\(table).\(key)"].map { " at line \($0)" } ?? ""); "
                        + "[\(table)] takes \(known.sorted().joined(separator: ", "))"
                )
            }
        }
    }

    /// Maps `table.key` (and `table`) to the line it is on, by reading the text: TOMLKit keeps no positions.
    static func keyLines(_ text: String) -> [String: Int] {
        var result: [String: Int] = [:]
        var arrays: [String: Int] = [:]
        var table = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[["), let end = line.range(of: "]]") {
                // An array of tables: entries are numbered, `webhooks#1`, `webhooks#2`, …
                let name = line[line.index(line.startIndex, offsetBy: 2)..<end.lowerBound].trimmingCharacters(
                    in: .whitespaces
                )
                arrays[name, default: 0] += 1
                table = "\(name)#\(arrays[name]!)"
                result[table] = index + 1
            } else if line.hasPrefix("["), let end = line.firstIndex(of: "]") {
                table = line[line.index(after: line.startIndex)..<end].trimmingCharacters(in: .whitespaces)
                result[table] = result[table] ?? index + 1
            } else if let equals = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = line[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
                result[table.isEmpty ? key : "\(table).\(key)"] = index + 1
            }
        }
        return result
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
