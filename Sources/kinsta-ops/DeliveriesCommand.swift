import ArgumentParser
import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops deliveries` — `GET /v1/deliveries`: webhook deliveries, newest first.
struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "List webhook deliveries (pending, delivered, failed), newest first."
    )

    @Option(help: "pending, delivered or failed.") var state: String?
    @Option(help: "Only this endpoint (its name in the configuration).") var endpoint: String?
    @Option(help: "How many (1–1000).") var limit = 50
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.withClient { client in
            let route = "/\(socketAPIVersion)/deliveries"
            let response = try await client.send(
                "GET",
                route,
                query: [("state", state), ("endpoint", endpoint), ("limit", String(limit))]
            )
            let list = try client.decode([DeliveryView].self, from: response.body, route: "GET \(route)")
            if global.json {
                // Every list the CLI prints is {"<name>": [...]}; the socket's own answer is the bare array.
                let items = try client.decode(JSONValue.self, from: response.body, route: "GET \(route)")
                Console.out(Format.json(.object(["deliveries": items])))
                return
            }
            var table = Table([
                .init("ID", alignment: .right), .init("ENDPOINT"), .init("EVENT", alignment: .right),
                .init("JOB", alignment: .right), .init("STATE"), .init("ATTEMPTS", alignment: .right),
                .init("NEXT / DONE"), .init("LAST ERROR", maxWidth: 50),
            ])
            for delivery in list {
                let when =
                    delivery.deliveredAt.map { Format.relative($0) }
                    ?? delivery.waitingBehind.map { "waiting behind delivery \($0)" }
                    ?? delivery.nextAttemptAt.map { "next " + Format.when($0) } ?? ""
                table.append([
                    String(delivery.id), delivery.endpoint, String(delivery.eventSeq), String(delivery.jobID),
                    delivery.state, String(delivery.attempts), when, delivery.lastError ?? "",
                ])
            }
            if table.rows.isEmpty {
                Console.out("no deliveries")
            } else {
                for line in table.render() { Console.out(line) }
            }
        }
    }
}

/// `kinsta-ops redeliver ID` — queues a delivery again from its first attempt.
struct RedeliverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redeliver",
        abstract: "Send a webhook delivery again (after it failed, or to replay it)."
    )

    @Argument(help: "Delivery ID (see kinsta-ops deliveries).") var id: Int64
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.withClient { client in
            let route = "/\(socketAPIVersion)/deliveries/\(id)/redeliver"
            let response = try await client.send("POST", route)
            if global.json {
                Console.out(Format.rawJSON(response.body))
                return
            }
            let delivery = try client.decode(DeliveryView.self, from: response.body, route: "POST \(route)")
            Console.out("delivery \(delivery.id) to \(delivery.endpoint) queued again")
        }
    }
}
