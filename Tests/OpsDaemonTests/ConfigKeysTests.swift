import Foundation
import OpsCore
import Testing

@testable import OpsDaemon

/// The table of configuration keys against itself and the shipped example file.
@Suite struct ConfigKeysTests {
    /// `table.key` for each key line of the shipped file; `commented` takes `# key = …` lines too.
    static func shippedKeys(commented: Bool) throws -> Set<String> {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/kinsta-opsd.toml")
        var table = ""
        var keys: Set<String> = []
        for raw in try String(contentsOf: shipped, encoding: .utf8).split(separator: "\n") {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") && !line.hasPrefix("[[") {
                table = String(line.dropFirst().prefix { $0 != "]" })
                continue
            }
            if line.hasPrefix("# ") {
                guard commented else { continue }
                line = String(line.dropFirst(2))
            }
            let name = line.prefix { $0.isLowercase || $0 == "_" }
            if !name.isEmpty, line.dropFirst(name.count).hasPrefix(" = ") { keys.insert("\(table).\(name)") }
        }
        return keys
    }

    @Test func everyKeyIsOnceInItsTable() {
        let names = ConfigKeys.all.map { "\($0.table).\($0.name)" }
        #expect(Set(names).count == names.count)
        #expect(
            ConfigKeys.schema.keys.sorted() == [
                "approval", "daemon", "deadlines", "kinsta", "polling", "retention", "settle_grace",
            ]
        )
    }

    @Test func theShippedFileShowsTheKeysOfTheTable() throws {
        let table = Set(ConfigKeys.all.map { "\($0.table).\($0.name)" })
        // Every key the file sets is known.
        #expect(try Self.shippedKeys(commented: false).subtracting(table).isEmpty)
        // Every key is shown, set or commented out. [deadlines] and [settle_grace] have a key per kind: the file shows
        // them as examples (a kind added later need not be listed), and a value it shows must be the default
        // (ConfigLoaderTests).
        let shown = try Self.shippedKeys(commented: true)
        let perKind = table.filter { $0.hasPrefix("settle_grace.") || $0.hasPrefix("deadlines.") }
        #expect(table.subtracting(perKind).subtracting(shown).sorted() == [])
        #expect(shown.contains("deadlines.site_create"))
    }

    @Test func theSummaryShowsEveryKeyOfTheTableOnce() throws {
        let summary = try ConfigLoader(environment: ["KINSTA_API_KEY": "k"]).load(path: nil).redactedSummary
        var table = ""
        var shown: [String] = []
        for line in summary.split(separator: "\n") {
            if line.hasPrefix("[") {
                table = String(line.dropFirst().prefix { $0 != "]" })
            } else if line.hasPrefix("# "), let name = line.dropFirst(2).split(separator: ":").first {
                shown.append("\(table).\(name)")  // a secret, or a key not set: a comment line
            } else if let name = line.split(separator: " = ").first {
                shown.append("\(table).\(name)")
            }
        }
        #expect(shown == ConfigKeys.all.map { "\($0.table).\($0.name)" })
    }

    /// SIGHUP says what it applied and what waits for a restart.
    @Test func aReloadNamesWhatItAppliedAndWhatNeedsARestart() throws {
        func load(_ text: String) throws -> DaemonConfiguration {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rl-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("c.toml").path
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            return try ConfigLoader(environment: ["KINSTA_API_KEY": "k"]).load(path: path)
        }
        let started = try load("[daemon]\nlog_level = \"info\"\n")
        let hook = "[[webhooks]]\nname = \"c\"\nurl = \"https://hooks.slack.com/services/a/b\"\nformat = \"slack\"\n"
        let fresh = try load(
            "[daemon]\nlog_level = \"debug\"\nmax_in_flight = 4\n[kinsta]\nrequests_per_minute = 30\n" + hook
        )
        let first = ReloadService.report(started: started, last: started, fresh: fresh)
        #expect(first.applied == ["daemon.log_level", "webhooks"])
        #expect(first.needsRestart == ["kinsta.requests_per_minute", "daemon.max_in_flight"])
        // A second SIGHUP with nothing new: nothing applied, and the restart is still pending
        let second = ReloadService.report(started: started, last: fresh, fresh: fresh)
        #expect(second.applied.isEmpty)
        #expect(second.needsRestart == first.needsRestart)
        // Nothing changed at all
        #expect(ReloadService.report(started: started, last: started, fresh: started) == ([], []))
    }

    @Test func numberDefaultsAreInTheirRange() {
        let numbers: [ConfigKey<Double>] = [
            ConfigKeys.requestTimeout, ConfigKeys.requestsPerMinute, ConfigKeys.requestBurst, ConfigKeys.maxInFlight,
            ConfigKeys.maxConcurrentRequests, ConfigKeys.shutdownGrace, ConfigKeys.clientIdleTimeout,
            ConfigKeys.maxConnections, ConfigKeys.startupWindow, ConfigKeys.firstPoll, ConfigKeys.interval,
            ConfigKeys.maxInterval, ConfigKeys.multiplier, ConfigKeys.jitter, ConfigKeys.confirmations,
            ConfigKeys.confirmSpan, ConfigKeys.errorBackoff, ConfigKeys.errorBackoffMax,
            ConfigKeys.adaptiveMinInterval, ConfigKeys.adaptiveMaxInterval, ConfigKeys.adaptiveTradeoff,
            ConfigKeys.adaptiveHistory, ConfigKeys.retentionDays,
        ]
        for key in numbers {
            #expect(key.range.contains(key.defaultValue), "\(key.dotted)")
        }
    }
}
