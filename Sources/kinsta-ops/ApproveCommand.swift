import ArgumentParser
import Foundation
import OpsProtocol

/// `kinsta-ops approve ID…` — `POST /v1/jobs/{id}/approve`: release held jobs; the daemon records who approved.
struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve held jobs (submitted with --hold, or of a kind the configuration holds).",
        discussion: "The daemon records the approver's uid in each job's events; with [approval] distinct_approver, "
            + "a job's submitter cannot approve it."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var jobs: JobIDs

    func run() async throws {
        try await global.forEachJob(jobs.ids) { client, id throws(CLIError) in
            let (job, raw, _) = try await client.post(JobView.self, "/\(socketAPIVersion)/jobs/\(id)/approve")
            Console.out(global.json ? Format.rawJSON(raw) : "job \(job.id) \(job.state) (\(job.kind)), approved")
        }
    }
}
