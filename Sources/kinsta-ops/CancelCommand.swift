import ArgumentParser
import Foundation
import OpsProtocol

/// `kinsta-ops cancel ID` — `POST /v1/jobs/{id}/cancel`: withdraw a job that has not been sent to Kinsta yet.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a queued job (the daemon refuses once it was sent to Kinsta)."
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var jobs: JobIDs

    func run() async throws {
        try await global.forEachJob(jobs.ids) { client, id throws(CLIError) in
            let (job, raw, _) = try await client.post(JobView.self, "/\(socketAPIVersion)/jobs/\(id)/cancel")
            Console.out(global.json ? Format.rawJSON(raw) : "job \(job.id) \(job.state) (\(job.kind))")
        }
    }
}
