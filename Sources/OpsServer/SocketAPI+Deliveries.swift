import Foundation
import Hummingbird
import Logging
import OpsProtocol
import OpsStore

extension SocketAPI {
    /// `GET /v1/deliveries?state=&endpoint=&limit=`, `POST /v1/deliveries/{id}/redeliver`,
    /// `POST /v1/webhooks/{name}/enable` (after a receiver's 410).
    func addDeliveryRoutes(to group: RouterGroup<PeerContext>) {
        group.get("deliveries") { request, _ in
            let query = request.uri.queryParameters
            let state = try query["state"].map { text in
                guard let state = StoredDelivery.State(rawValue: String(text)) else {
                    throw APIError.badRequest("state must be pending, delivered or failed", field: "state")
                }
                return state
            }
            let limit = try Self.integer(query, "limit", in: 1...1000) ?? 100
            let endpoint = query["endpoint"].map(String.init)
            let list = try await database.deliveries(state: state, endpoint: endpoint, limit: Int(limit))
            return Response.json(list.map(DeliveryView.init))
        }
        group.post("deliveries/:id/redeliver") { _, context in
            guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
                throw APIError.badRequest("delivery IDs are positive whole numbers", field: "id")
            }
            guard let delivery = try await database.redeliver(deliveryID: id, now: now()) else {
                throw APIError.notFound("no delivery \(id)")
            }
            logger.info("delivery queued again by admin", metadata: ["delivery.id": "\(id)"])
            return Response.json(DeliveryView(delivery))
        }
        group.post("webhooks/:name/enable") { _, context in
            let name = context.parameters.get("name").map { $0.removingPercentEncoding ?? $0 } ?? ""
            guard webhookNames().contains(name) else {
                throw APIError.notFound("no webhook endpoint named \(name) is configured")
            }
            try await database.setEndpointDisabled(name, reason: nil, now: now())
            logger.info("webhook endpoint enabled by admin", metadata: ["webhook": "\(name)"])
            return Response.json(["webhook": name, "state": "enabled"])
        }
    }
}

extension DeliveryView {
    init(_ delivery: StoredDelivery) {
        self.init(
            id: delivery.id,
            eventSeq: delivery.eventSeq,
            jobID: delivery.jobID,
            endpoint: delivery.endpoint,
            state: delivery.state.rawValue,
            attempts: delivery.attempts,
            nextAttemptAt: delivery.state == .pending ? delivery.nextAttemptAt : nil,
            lastStatus: delivery.lastStatus,
            lastError: delivery.lastError,
            createdAt: delivery.createdAt,
            deliveredAt: delivery.deliveredAt
        )
        waitingBehind = delivery.waitingBehind
    }
}
