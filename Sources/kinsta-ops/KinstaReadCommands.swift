import ArgumentParser
import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops sites`, `environments SITE`, `backups ENV`, `downloadable-backups ENV`: Kinsta reads through the daemon
/// (it holds the key), like the Slack bot's `/site_id`, `/environment_id`, `/backups` and `/downloadable_backups`.
enum KinstaRead {
    /// GETs a read-through route and returns Kinsta's JSON (or prints it raw with `--json`).
    static func fetch(
        _ global: GlobalOptions,
        _ path: String,
        query: [(String, String?)] = []
    ) async throws -> JSONValue? {
        try await global.withClient { client in
            let response = try await client.send("GET", "/\(socketAPIVersion)/kinsta" + path, query: query)
            if global.json {
                Console.out(Format.rawJSON(response.body))
                return nil
            }
            return try client.decode(
                JSONValue.self,
                from: response.body,
                route: "GET /\(socketAPIVersion)/kinsta\(path)"
            )
        }
    }

    static func array(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let items)? = value { return items }
        return []
    }

    static func text(_ value: JSONValue?) -> String {
        switch value {
        case .string(let text)?: text
        case .integer(let number)?: String(number)
        case .number(let number)?: String(number)
        case .bool(let flag)?: flag ? "yes" : "no"
        default: ""
        }
    }

    /// Kinsta's millisecond timestamps, as a local time.
    static func date(_ value: JSONValue?) -> String {
        let ms: Double? =
            switch value {
            case .integer(let number)?: Double(number)
            case .number(let number)?: number
            default: nil
            }
        return ms.map { Format.timestamp(Date(timeIntervalSince1970: $0 / 1000)) } ?? ""
    }

    static func print(_ table: Table, empty: String) {
        if table.rows.isEmpty {
            Console.out(empty)
        } else {
            for line in table.render() { Console.out(line) }
        }
    }
}

struct SitesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sites",
        abstract: "List the company's sites: name → site ID (like the Slack bot's /site_id)."
    )

    @Option(help: "Company ID (default: the daemon's configured company).") var company: String?
    @Option(help: "Show only sites whose name contains this text.") var name: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard let body = try await KinstaRead.fetch(global, "/sites", query: [("company", company)]) else { return }
        var table = Table([.init("NAME", maxWidth: 40), .init("SITE ID"), .init("STATUS")])
        for site in KinstaRead.array(body["company"]?["sites"]) {
            let display = KinstaRead.text(site["display_name"])
            if let name, !display.localizedCaseInsensitiveContains(name) { continue }
            table.append([display, KinstaRead.text(site["id"]), KinstaRead.text(site["status"])])
        }
        KinstaRead.print(table, empty: "no sites")
    }
}

struct EnvironmentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "environments",
        abstract: "List a site's environments (like the Slack bot's /environment_id)."
    )

    @Argument(help: "Site ID.") var site: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard let body = try await KinstaRead.fetch(global, "/sites/\(DaemonClient.percentEncode(site))/environments")
        else { return }
        var table = Table([.init("NAME"), .init("ENVIRONMENT ID"), .init("PREMIUM"), .init("BLOCKED")])
        for environment in KinstaRead.array(body["site"]?["environments"]) {
            table.append([
                KinstaRead.text(environment["display_name"]), KinstaRead.text(environment["id"]),
                KinstaRead.text(environment["is_premium"]), KinstaRead.text(environment["is_blocked"]),
            ])
        }
        KinstaRead.print(table, empty: "no environments")
    }
}

struct BackupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backups",
        abstract: "List an environment's backups (restore one with submit backup.restore)."
    )

    @Argument(help: "Environment ID.") var environment: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let path = "/environments/\(DaemonClient.percentEncode(environment))/backups"
        guard let body = try await KinstaRead.fetch(global, path) else { return }
        var table = Table([
            .init("BACKUP ID", alignment: .right), .init("TYPE"), .init("CREATED"), .init("NAME", maxWidth: 40),
            .init("NOTE", maxWidth: 40),
        ])
        for backup in KinstaRead.array(body["environment"]?["backups"]) {
            table.append([
                KinstaRead.text(backup["id"]), KinstaRead.text(backup["type"]), KinstaRead.date(backup["created_at"]),
                KinstaRead.text(backup["name"]), KinstaRead.text(backup["note"]),
            ])
        }
        KinstaRead.print(table, empty: "no backups")
    }
}

struct DownloadableBackupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "downloadable-backups",
        abstract: "List an environment's downloadable backups, with link and expiry."
    )

    @Argument(help: "Environment ID.") var environment: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let path = "/environments/\(DaemonClient.percentEncode(environment))/downloadable-backups"
        guard let body = try await KinstaRead.fetch(global, path) else { return }
        var table = Table([.init("CREATED"), .init("EXPIRES"), .init("READY"), .init("DOWNLOAD LINK")])
        for backup in KinstaRead.array(body["environment"]?["downloadable_backups"]) {
            let ready = backup["is_generation_in_progress"] == .bool(true) ? "generating" : "yes"
            table.append([
                KinstaRead.date(backup["created_at"]), KinstaRead.date(backup["expires_at"]), ready,
                KinstaRead.text(backup["download_link"]),
            ])
        }
        KinstaRead.print(table, empty: "no downloadable backups")
    }
}
