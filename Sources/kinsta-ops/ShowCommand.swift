import ArgumentParser
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops show ID` — `GET /v1/jobs/{id}`: the job, then its event history.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one job with its event history."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The job ID.")
    var id: Int64

    func validate() throws {
        if id < 1 { throw ArgumentParser.ValidationError("a job ID is a positive number") }
    }

    func run() async throws {
        try await global.withClient { client in
            let (job, raw) = try await client.job(id)
            if global.json {
                Console.out(Format.rawJSON(raw))
                return
            }
            for line in Self.render(job, now: Date()) { Console.out(line) }
        }
    }

    /// The key/value block, a blank line, then the events table (or `no events`).
    static func render(_ job: JobView, now: Date) -> [String] {
        var block = KeyValueBlock()
        block.add("job", String(job.id))
        block.add("kind", job.kind)
        block.add("state", job.state)
        block.add("attempt", String(job.attempt))
        block.add("target", job.target)
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
        block.add("deadline", job.deadline.map { Format.when($0, now: now) })
        if job.pendingAction != nil || job.nextActionAt != nil {
            let action = job.pendingAction ?? "next action"
            let at = job.nextActionAt.map { " at \(Format.when($0, now: now))" } ?? ""
            block.add("next action", action + at)
        }
        block.add("polls", String(job.pollCount))
        block.add("last error", job.lastError.map(Format.oneLine))
        block.add("result", job.result.map(Format.json))
        for (index, name) in (job.outputs ?? [:]).keys.sorted().enumerated() {
            block.add(index == 0 ? "outputs" : "", "\(name) = \(Format.json(job.outputs?[name] ?? .null))")
        }

        var lines = block.render()
        lines.append("")
        let events = job.events ?? []
        if events.isEmpty {
            lines.append("no events")
        } else {
            var table = Table([
                .init("SEQ", alignment: .right), .init("TIME"), .init("ATTEMPT", alignment: .right),
                .init("FROM → TO"), .init("MESSAGE", maxWidth: 100),
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
