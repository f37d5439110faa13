import Foundation
import Hummingbird
import NIOCore
import OpsCore
import OpsProtocol
import OpsStore
import ServiceLifecycle

extension SocketAPI {
    /// Seconds between blank heartbeat lines on an idle follow stream: a write is how a dead client is noticed.
    static let heartbeatSeconds = 15
    /// The values `follow` takes (any case): a typo is refused rather than read as "do not follow".
    static let followValues = ["1": true, "true": true, "yes": true, "0": false, "false": false, "no": false]

    /// `GET /v1/events?after=SEQ&job=ID&limit=N&tail=N&follow=1`: the history as NDJSON, one event a line.
    ///
    /// `after` gives every event with a greater `seq`, oldest first; `tail` the last N instead. With `follow` the
    /// stream stays open and sends new events as they are committed, plus a blank line every 15 s while idle. A
    /// client that reconnects with the last `seq` it saw misses nothing and sees nothing twice.
    @Sendable func events(_ request: Request, context: PeerContext) async throws -> Response {
        let query = request.uri.queryParameters
        var after = try Self.integer(query, "after", in: 0...Int64.max) ?? 0
        let jobID = try Self.integer(query, "job", in: 1...Int64.max)
        let limit = Int(try Self.integer(query, "limit", in: 1...10_000) ?? 1000)
        let tail = try Self.integer(query, "tail", in: 1...10_000).map(Int.init)
        let follow =
            try query["follow"].map { text in
                guard let follow = Self.followValues[text.lowercased()] else {
                    throw APIError.badRequest("follow must be 1, true or yes (or 0, false, no)", field: "follow")
                }
                return follow
            } ?? false

        // Times become seq bounds: events are stored in time order (OpsDatabase.lastSeq(before:)).
        if let since = try Self.time(query, "since") {
            after = max(after, try await self.database.lastSeq(before: since))
        }
        var through: Int64?
        if let until = try Self.time(query, "until") {
            through = try await self.database.lastSeq(before: until.addingTimeInterval(0.001))
        }
        if through != nil && follow {
            throw APIError.badRequest("until and follow exclude each other: a follow never ends", field: "until")
        }
        let firstPage: [StoredEvent]
        if let tail, query["after"] == nil, query["since"] == nil {
            firstPage = try await self.database.lastEvents(tail, through: through, jobID: jobID)
        } else {
            firstPage = try await self.database.events(after: after, through: through, jobID: jobID, limit: limit)
        }
        after = firstPage.last?.seq ?? after
        let headers: HTTPFields = [.contentType: "application/x-ndjson", .cacheControl: "no-store"]
        guard follow else {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: Self.ndjson(firstPage)))
        }
        let database = self.database
        let start = after
        let connectionClosed = context.channel?.closeFuture
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                // Subscribe before the catch-up read, so a commit between the two still wakes the loop.
                let subscription = database.changes.subscribe()
                // A client that leaves ends its stream at once. Otherwise the loop would only notice at its next write
                // (an event, or a heartbeat up to 15 s later), and keep its tasks and buffers until then.
                connectionClosed?.whenComplete { _ in subscription.close() }
                var last = start
                try await writer.write(Self.ndjson(firstPage))
                try await withGracefulShutdownHandler {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            while !Task.isCancelled {
                                try await Task.sleep(for: .seconds(Self.heartbeatSeconds))
                                subscription.poke()
                            }
                        }
                        subscription.poke()
                        for await _ in subscription {
                            var wroteAny = false
                            while true {
                                let page = try await database.events(after: last, jobID: jobID, limit: 500)
                                guard let newest = page.last else { break }
                                try await writer.write(Self.ndjson(page))
                                last = newest.seq
                                wroteAny = true
                            }
                            if !wroteAny { try await writer.write(ByteBuffer(string: "\n")) }
                        }
                        group.cancelAll()
                    }
                } onGracefulShutdown: {
                    subscription.close()
                }
                try await writer.finish(nil)
            }
        )
    }

    static func ndjson(_ events: [StoredEvent]) -> ByteBuffer {
        var writer = CanonicalJSONWriter(reservingCapacity: 256 * events.count)
        for event in events {
            EventView(event).write(to: &writer)
            writer.newline()
        }
        return ByteBuffer(bytes: writer.bytes)
    }
}
