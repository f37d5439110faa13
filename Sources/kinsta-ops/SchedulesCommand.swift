import ArgumentParser
import Foundation
import OpsProtocol

/// `kinsta-ops schedules` — `GET /v1/schedules`: the configured schedules, with their last and next runs.
struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "List the configured schedules ([[schedules]]) with their last and next runs.",
        discussion: "A run whose previous run is still going is skipped; after downtime the runs missed fire once. "
            + "SIGHUP (systemctl reload kinsta-opsd) applies a changed [[schedules]] list."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.withClient { client in
            let (list, raw) = try await client.get(ScheduleListView.self, "/\(socketAPIVersion)/schedules")
            guard !global.json else { return Console.out(Format.rawJSON(raw)) }
            guard !list.schedules.isEmpty else {
                return Console.out("no schedules; add [[schedules]] to the configuration and reload the daemon")
            }
            var table = Table([
                .init("NAME", maxWidth: 24), .init("CRON"), .init("TIMEZONE"), .init("STARTS", maxWidth: 40),
                .init("LAST RUN"), .init("RESULT"), .init("NEXT RUN"),
            ])
            for schedule in list.schedules {
                let last = schedule.lastRunAt.map { Format.when($0) } ?? "never"
                var result = schedule.lastResult ?? ""
                if let plan = schedule.lastPlanID, result == "fired" { result += " (plan \(plan))" }
                if let job = schedule.lastJobID, result == "fired" { result += " (job \(job))" }
                table.append([
                    schedule.name, schedule.cron, schedule.timezone, schedule.target, last, result,
                    schedule.nextRunAt.map { Format.when($0) } ?? "none",
                ])
            }
            for line in table.render() { Console.out(line) }
        }
    }
}
