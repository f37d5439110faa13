import ArgumentParser
import Foundation
import OpsProtocol

/// `kinsta-ops retry ID` — `POST /v1/jobs/{id}/retry`: a new attempt of a failed, timed out or needs_attention job.
struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Start a new attempt of failed, timed_out or needs_attention jobs.",
        discussion: """
            By ID, or every job a filter finds: kinsta-ops retry --state failed --kind backup.create \
            --since "24 hours ago" (--dry-run lists them and changes nothing). Follow with: kinsta-ops wait ID…
            """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var selection: BulkSelection

    func run() async throws {
        try await selection.run(global, verb: "retry") { client, id throws(CLIError) in
            let (job, raw, _) = try await client.post(JobView.self, "/\(socketAPIVersion)/jobs/\(id)/retry")
            Console.out(
                global.json ? Format.rawJSON(raw) : "job \(job.id) \(job.state) (\(job.kind), attempt \(job.attempt))"
            )
        }
    }
}
