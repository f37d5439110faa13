import ArgumentParser
import Foundation
import OpsProtocol

/// `kinsta-ops cancel ID…` (or a filter) — `POST /v1/jobs/{id}/cancel`: withdraw jobs not sent to Kinsta yet.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel held, waiting or queued jobs (the daemon refuses once one was sent to Kinsta).",
        discussion: """
            By ID, or every job a filter finds: kinsta-ops cancel --state queued --kind backup.create \
            --since "1 hour ago" (--dry-run lists them and changes nothing).
            """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var selection: BulkSelection

    func run() async throws {
        try await selection.run(global, verb: "cancel") { client, id throws(CLIError) in
            let (job, raw, _) = try await client.post(JobView.self, "/\(socketAPIVersion)/jobs/\(id)/cancel")
            Console.out(global.json ? Format.rawJSON(raw) : "job \(job.id) \(job.state) (\(job.kind))")
        }
    }
}
