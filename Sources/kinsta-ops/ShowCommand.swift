import ArgumentParser
import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops show ID` — `GET /v1/jobs/{id}`: the job, then its event history. A failed job also gets Kinsta's
/// reason from the activity log (`GET /v1/kinsta/activity-logs`), when one is found.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show jobs with their event history.",
        discussion: "Several IDs show one job after another; with --json, one job's JSON per line."
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var jobs: JobIDs

    func run() async throws {
        var first = true
        try await global.forEachJob(jobs.ids) { client, id throws(CLIError) in
            let (job, raw) = try await client.job(id)
            if global.json {
                Console.out(Format.rawJSON(raw))
                return
            }
            if !first { Console.out("") }
            first = false
            let activity = job.state == JobState.failed.rawValue ? await Self.activityFailure(of: job, client) : nil
            for line in Self.render(job, now: Date(), activity: activity) { Console.out(line) }
        }
    }

    /// For a failed job: the failed entry of Kinsta's activity log that is most likely its own (the job's site's
    /// entries when it names a site, the company's otherwise; the one closest to the job's time), or `nil` when none
    /// is found or the log cannot be read (the job is shown either way).
    static func activityFailure(of job: JobView, _ client: DaemonClient) async -> JSONValue? {
        let site = job.params["site_id"]?.stringValue ?? job.outputs?["site_id"]?.stringValue
        let path = "/\(socketAPIVersion)/kinsta/activity-logs"
        guard let response = try? await client.send("GET", path, query: [("site_id", site), ("limit", "50")]),
            let body = try? WireJSON.decoder().decode(JSONValue.self, from: response.body),
            case .array(let entries)? = body["company"]?["activity_logs"]?["items"]
        else { return nil }
        return KinstaActivity.failure(
            in: entries,
            site: site,
            createdAt: job.createdAt,
            acceptedAt: job.acceptedAt,
            endedAt: job.finishedAt ?? job.updatedAt
        )
    }

    /// The key/value block, a blank line, then the events table (or `no events`).
    static func render(_ job: JobView, now: Date, activity: JSONValue? = nil) -> [String] {
        var block = KeyValueBlock()
        block.add("job", String(job.id))
        block.add("kind", job.kind)
        block.add("state", Colour.states(in: job.state))
        block.add("attempt", String(job.attempt))
        if let plan = job.planID {
            block.add("plan", "\(plan), step \(job.step ?? "?") (`kinsta-ops plan show \(plan)`)")
        }
        if let priority = job.priority, priority != 0 { block.add("priority", String(priority)) }
        // The subject (a new site's name) reads better than the key the daemon derived from it.
        let subject = Format.target(of: job)
        block.add("target", subject)
        if subject != job.target { block.add("occupies", job.target) }
        if let after = job.after {
            let jobs = after.map { "job \($0)" }.joined(separator: ", ")
            block.add("after", job.state == JobState.waiting.rawValue ? "\(jobs) (waiting until they succeeded)" : jobs)
        }
        if let ahead = job.waitingBehind {
            block.add("waiting", "behind job \(ahead)" + (job.waitingOn.map { " on \($0)" } ?? ""))
        }
        block.add("operation", job.operationID ?? "-")
        block.add("note", job.note.map(Format.oneLine))
        if job.params.isEmpty {
            block.add("params", "-")
        } else {
            for (index, name) in job.params.keys.sorted().enumerated() {
                block.add(index == 0 ? "params" : "", "\(name) = \(Format.json(job.params[name] ?? .null))")
            }
        }
        if let peer = job.submittedBy {
            block.add("submitted by", "uid \(peer.uid) (gid \(peer.gid)), pid \(peer.pid)")
        }
        block.add("created", Format.when(job.createdAt, now: now))
        block.add("updated", Format.when(job.updatedAt, now: now))
        block.add("accepted", job.acceptedAt.map { Format.when($0, now: now) })
        block.add("finished", job.finishedAt.map { Format.when($0, now: now) })
        let finished = JobState(rawValue: job.state)?.isTerminal ?? false
        if !finished { block.add("deadline", job.deadline.map { Format.when($0, now: now) }) }
        if job.pendingAction != nil || job.nextActionAt != nil {
            let action = job.pendingAction ?? "next action"
            let at = job.nextActionAt.map { " at \(Format.when($0, now: now))" } ?? ""
            block.add("next action", action + at)
        }
        block.add("polls", String(job.pollCount))
        block.add("last error", job.lastError.map(Format.oneLine))
        // What the job learned, by its kind's output names; Kinsta's raw answer only when there is nothing else.
        let outputs = job.outputs ?? [:]
        for (index, name) in outputs.keys.sorted().enumerated() {
            block.add(index == 0 ? "outputs" : "", "\(name) = \(JSONValue.plainText(outputs[name] ?? .null))")
        }
        if outputs.isEmpty { block.add("kinsta result", job.result.map(Format.json)) }

        var lines = block.render()
        if let activity {
            let type = activity["type"]?.stringValue.map { "\($0), " } ?? ""
            let at = KinstaActivity.time(activity).map { Format.when($0, now: now) } ?? "-"
            let reason = activity["public_error"]?.stringValue.map(Format.oneLine) ?? "(no reason given)"
            lines.append("Kinsta's activity log: \(reason) (\(type)\(at))")
        }
        lines.append("")
        let events = job.events ?? []
        if events.isEmpty {
            lines.append("no events")
        } else {
            var table = Table([
                .init("SEQ", alignment: .right), .init("TIME"), .init("ATTEMPT", alignment: .right),
                .init("FROM → TO", states: true), .init("MESSAGE", maxWidth: 100),
            ])
            for event in events.sorted(by: { $0.seq < $1.seq }) {
                table.append([
                    String(event.seq), Format.clock(event.at, now: now), String(event.attempt),
                    Format.transition(event), Format.eventMessage(event),
                ])
            }
            lines += table.render()
        }
        return lines
    }
}
