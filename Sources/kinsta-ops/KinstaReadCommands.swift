import ArgumentParser
import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops sites`, `environments SITE`, `backups ENV`, `downloadable-backups ENV`: Kinsta reads through the daemon
/// (it holds the key), like the Slack bot's `/site_id`, `/environment_id`, `/backups` and `/downloadable_backups`.
enum KinstaRead {
    /// GETs a read-through route and returns the list Kinsta's answer holds at `path` (`company.sites`, …), the
    /// entries `keep` keeps. With `--json`, prints them as `{"<name>": [entries]}` (every list the CLI prints has
    /// that shape: `jobs`, `deliveries`, `sites`, …) and returns `nil`. A command's filters go in `keep`, so the
    /// table and the JSON a script reads are filtered alike.
    static func list(
        _ global: GlobalOptions,
        _ route: String,
        query: [(String, String?)] = [],
        at path: [String],
        as name: String,
        keep: ((JSONValue) -> Bool)? = nil
    ) async throws -> [JSONValue]? {
        try await global.withClient { client in
            let response = try await client.send("GET", "/\(socketAPIVersion)/kinsta" + route, query: query)
            let body = try client.decode(
                JSONValue.self,
                from: response.body,
                route: "GET /\(socketAPIVersion)/kinsta\(route)"
            )
            let entries = array(path.reduce(Optional(body)) { $0?[$1] }).filter { keep?($0) ?? true }
            if global.json {
                Console.out(Format.json(.object([name: .array(entries)])))
                return nil
            }
            return entries
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
        let keep: ((JSONValue) -> Bool)? = name.map { name in
            { KinstaRead.text($0["display_name"]).localizedCaseInsensitiveContains(name) }
        }
        guard
            let sites = try await KinstaRead.list(
                global,
                "/sites",
                query: [("company", company)],
                at: ["company", "sites"],
                as: "sites",
                keep: keep
            )
        else { return }
        var table = Table([.init("NAME", maxWidth: 40), .init("SITE ID"), .init("STATUS")])
        for site in sites {
            table.append([
                KinstaRead.text(site["display_name"]), KinstaRead.text(site["id"]), KinstaRead.text(site["status"]),
            ])
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
        guard
            let entries = try await KinstaRead.list(
                global,
                "/sites/\(DaemonClient.percentEncode(site))/environments",
                at: ["site", "environments"],
                as: "environments"
            )
        else { return }
        var table = Table([.init("NAME"), .init("ENVIRONMENT ID"), .init("PREMIUM"), .init("BLOCKED")])
        for environment in entries {
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
        guard let entries = try await KinstaRead.list(global, path, at: ["environment", "backups"], as: "backups")
        else { return }
        var table = Table([
            .init("BACKUP ID", alignment: .right), .init("TYPE"), .init("CREATED"), .init("NAME", maxWidth: 40),
            .init("NOTE", maxWidth: 40),
        ])
        for backup in entries {
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
        guard
            let entries = try await KinstaRead.list(
                global,
                path,
                at: ["environment", "downloadable_backups"],
                as: "downloadable_backups"
            )
        else { return }
        var table = Table([.init("CREATED"), .init("EXPIRES"), .init("READY"), .init("DOWNLOAD LINK")])
        for backup in entries {
            let ready = backup["is_generation_in_progress"] == .bool(true) ? "generating" : "yes"
            table.append([
                KinstaRead.date(backup["created_at"]), KinstaRead.date(backup["expires_at"]), ready,
                KinstaRead.text(backup["download_link"]),
            ])
        }
        KinstaRead.print(table, empty: "no downloadable backups")
    }
}

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "List the company's users: the user ID is what backup.restore takes as --notified-user-id."
    )

    @Option(help: "Company ID (default: the daemon's configured company).") var company: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard
            let entries = try await KinstaRead.list(
                global,
                "/users",
                query: [("company", company)],
                at: ["company", "users"],
                as: "users"
            )
        else { return }
        var table = Table([.init("USER ID"), .init("NAME", maxWidth: 40), .init("E-MAIL", maxWidth: 60)])
        for entry in entries {
            let user = entry["user"]
            table.append([
                KinstaRead.text(user?["id"]), KinstaRead.text(user?["full_name"]), KinstaRead.text(user?["email"]),
            ])
        }
        KinstaRead.print(table, empty: "no users")
    }
}

struct RegionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regions",
        abstract: "List the regions the company can create sites in (the --region of site.create)."
    )

    @Option(help: "Company ID (default: the daemon's configured company).") var company: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard
            let entries = try await KinstaRead.list(
                global,
                "/regions",
                query: [("company", company)],
                at: ["company", "available_regions"],
                as: "regions"
            )
        else { return }
        var table = Table([.init("REGION"), .init("NAME", maxWidth: 60)])
        for region in entries {
            table.append([KinstaRead.text(region["region"]), KinstaRead.text(region["name"])])
        }
        KinstaRead.print(table, empty: "no regions")
    }
}

struct DomainsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domains",
        abstract: "List an environment's domains with their IDs (for domain.delete and domain.set_primary)."
    )

    @Argument(help: "Environment ID.") var environment: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let path = "/environments/\(DaemonClient.percentEncode(environment))/domains"
        guard let entries = try await KinstaRead.list(global, path, at: ["environment", "site_domains"], as: "domains")
        else { return }
        var table = Table([.init("DOMAIN", maxWidth: 60), .init("DOMAIN ID"), .init("CLOUDFLARE DNS")])
        for domain in entries {
            table.append([
                KinstaRead.text(domain["name"]), KinstaRead.text(domain["id"]),
                KinstaRead.text(domain["uses_cloudflare_dns"]),
            ])
        }
        KinstaRead.print(table, empty: "no domains")
    }
}

struct ActivityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity",
        abstract: "List the company's activity log, newest first: what ran at Kinsta, and why it failed.",
        discussion: "A failed entry shows Kinsta's own reason (public_error), the only documented place for it."
    )

    @Option(help: "Only this site's entries (a site ID).") var site: String?
    @Option(help: "How many entries (1–100).") var limit: Int = 20
    @Option(help: "Company ID (default: the daemon's configured company).") var company: String?
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...100).contains(limit) else { throw ValidationError("--limit must be from 1 to 100") }
    }

    func run() async throws {
        let query = [("company", company), ("site_id", site), ("limit", String(limit))]
        guard
            let entries = try await KinstaRead.list(
                global,
                "/activity-logs",
                query: query,
                at: ["company", "activity_logs", "items"],
                as: "activity_logs"
            )
        else { return }
        var table = Table([
            .init("TIME"), .init("TYPE"), .init("STATE"), .init("SITE ID"), .init("DETAILS", maxWidth: 80),
        ])
        for entry in entries {
            table.append([
                KinstaRead.date(entry["created_at"]), KinstaRead.text(entry["type"]), KinstaActivity.state(entry),
                KinstaRead.text(entry["site_id"]), KinstaActivity.details(entry),
            ])
        }
        KinstaRead.print(table, empty: "no activity")
    }
}

/// Reading Kinsta's activity log entries (`company.activity_logs.items[]`).
enum KinstaActivity {
    /// `failed`, `running`, `warning` or `done`.
    static func state(_ entry: JSONValue) -> String {
        if entry["has_failed"] == .bool(true) { return "failed" }
        if entry["is_done"] == .bool(false) { return "running" }
        if entry["has_warning"] == .bool(true) { return "warning" }
        return "done"
    }

    /// A failed entry's `public_error`, else its descriptions.
    static func details(_ entry: JSONValue) -> String {
        if entry["has_failed"] == .bool(true), let error = entry["public_error"]?.stringValue, !error.isEmpty {
            return Format.oneLine(error)
        }
        return Format.oneLine(KinstaRead.array(entry["descriptions"]).compactMap(\.stringValue).joined(separator: "; "))
    }

    /// When an entry was made (`created_at`, milliseconds since 1970).
    static func time(_ entry: JSONValue) -> Date? {
        switch entry["created_at"] {
        case .integer(let ms)?: Date(timeIntervalSince1970: Double(ms) / 1000)
        case .number(let ms)?: Date(timeIntervalSince1970: ms / 1000)
        default: nil
        }
    }

    /// The failed entry that belongs to a failed job, if one does: among `entries` that have failed (and are the
    /// site's, when `site` is given), made from a minute before the job was created to a minute after it ended, the
    /// one closest to when Kinsta took the job.
    static func failure(
        in entries: [JSONValue],
        site: String?,
        createdAt: Date,
        acceptedAt: Date?,
        endedAt: Date
    ) -> JSONValue? {
        let from = createdAt.addingTimeInterval(-60)
        let to = endedAt.addingTimeInterval(60)
        let reference = acceptedAt ?? createdAt
        return
            entries
            .filter { entry in
                guard entry["has_failed"] == .bool(true), let at = time(entry), at >= from, at <= to else {
                    return false
                }
                return site == nil || entry["site_id"]?.stringValue == site
            }
            .min { first, second in
                abs(time(first)?.timeIntervalSince(reference) ?? .infinity)
                    < abs(time(second)?.timeIntervalSince(reference) ?? .infinity)
            }
    }
}
