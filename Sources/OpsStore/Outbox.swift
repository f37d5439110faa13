public import Foundation
import GRDB
import OpsCore

/// A delivery to write with an event: which endpoint, and the exact body it will carry.
public struct OutboxEntry: Sendable, Hashable {
    public var endpoint: String
    public var body: Data

    public init(endpoint: String, body: Data) {
        self.endpoint = endpoint
        self.body = body
    }
}

/// A delivery as stored.
public struct StoredDelivery: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, CaseIterable {
        case pending, delivered, failed
    }

    public var id: Int64
    public var eventSeq: Int64
    public var jobID: Int64
    public var endpoint: String
    public var body: Data
    public var state: State
    /// Attempts made so far.
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastStatus: Int?
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?
    /// For a pending delivery with an older one pending to its endpoint: that one's ID. Each endpoint is sent
    /// oldest first, so this one waits until that one is delivered or given up. Set by ``OpsDatabase/deliveries``.
    public var waitingBehind: Int64?

    /// `webhook-id`: the same for every attempt of this delivery, different for every (event, endpoint).
    public var messageID: String { "msg_\(eventSeq)_\(endpoint)" }
}

extension OpsDatabase {
    /// Writes the deliveries of the event just appended (called inside its transaction).
    static func writeOutbox(_ db: Database, _ context: WriteContext, event: StoredEvent) throws {
        guard let planner = context.planner else { return }
        if event.schedule != nil {
            guard let job = try fetchJob(db, id: event.jobID) else { return }
            for entry in planner.scheduleEntries(event, job) { try DeliveryRecord(pendingFor: event, entry).insert(db) }
            return
        }
        if let planID = event.planID {
            guard let plan = try fetchPlan(db, id: planID) else { return }
            for entry in planner.planEntries(event, plan) { try DeliveryRecord(pendingFor: event, entry).insert(db) }
            return
        }
        guard planner.wants(event.to), let job = try fetchJob(db, id: event.jobID) else { return }
        for entry in planner.entries(event, job) {
            try DeliveryRecord(pendingFor: event, entry).insert(db)
        }
    }

    /// The oldest pending delivery of `endpoint` (deliveries to one endpoint go out in `seq` order).
    public func nextDelivery(endpoint: String) async throws -> StoredDelivery? {
        try await writer.read { db in
            try DeliveryRecord.fetchOne(
                db,
                sql: "SELECT * FROM delivery WHERE endpoint = ? AND state = 'pending' ORDER BY event_seq LIMIT 1",
                arguments: [endpoint]
            ).map(StoredDelivery.init(record:))
        }
    }

    /// Records an attempt's result: delivered, failed for good, or due again at `nextAttemptAt`.
    public func recordAttempt(
        deliveryID: Int64,
        state: StoredDelivery.State,
        status: Int?,
        error: String?,
        nextAttemptAt: Date?,
        now: Date
    ) async throws {
        defer { changes.notify() }
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE delivery SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?,
                        next_attempt_at = coalesce(?, next_attempt_at), updated_at = ?,
                        delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END
                    WHERE id = ?
                    """,
                arguments: [
                    state.rawValue, status, error, nextAttemptAt?.milliseconds, now.milliseconds, state.rawValue,
                    now.milliseconds, deliveryID,
                ]
            )
        }
    }

    /// Deliveries, newest first, optionally filtered.
    public func deliveries(state: StoredDelivery.State?, endpoint: String?, limit: Int) async throws -> [StoredDelivery]
    {
        try await writer.read { db in
            let (filter, arguments) = Self.filter([("state = ?", state?.rawValue), ("endpoint = ?", endpoint)])
            var deliveries = try DeliveryRecord.fetchAll(
                db,
                sql: "SELECT * FROM delivery \(filter) ORDER BY id DESC LIMIT ?",
                arguments: arguments + [limit]
            ).map(StoredDelivery.init(record:))
            let oldestPending = try Dictionary(
                Row.fetchAll(
                    db,
                    sql: "SELECT endpoint, min(id) AS oldest FROM delivery WHERE state = 'pending' GROUP BY endpoint"
                ).map { (row: Row) -> (String, Int64) in (row["endpoint"], row["oldest"]) },
                uniquingKeysWith: { first, _ in first }
            )
            for index in deliveries.indices where deliveries[index].state == .pending {
                if let oldest = oldestPending[deliveries[index].endpoint], oldest < deliveries[index].id {
                    deliveries[index].waitingBehind = oldest
                }
            }
            return deliveries
        }
    }

    /// Queues a delivery again from its first attempt (an admin's redeliver). `nil` when there is no such delivery.
    public func redeliver(deliveryID: Int64, now: Date) async throws -> StoredDelivery? {
        defer { changes.notify() }
        return try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE delivery SET state = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL,
                        updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [now.milliseconds, now.milliseconds, deliveryID]
            )
            return try DeliveryRecord.fetchOne(db, sql: "SELECT * FROM delivery WHERE id = ?", arguments: [deliveryID])
                .map(StoredDelivery.init(record:))
        }
    }

    /// Marks an endpoint disabled (410 Gone), or enabled again with `reason` nil.
    public func setEndpointDisabled(_ name: String, reason: String?, now: Date) async throws {
        defer { changes.notify() }
        try await writer.write { db in
            if let reason {
                try db.execute(
                    sql: """
                        INSERT INTO endpoint_state (name, disabled_at, reason) VALUES (?, ?, ?)
                        ON CONFLICT(name) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason
                        """,
                    arguments: [name, now.milliseconds, reason]
                )
            } else {
                try db.execute(sql: "DELETE FROM endpoint_state WHERE name = ?", arguments: [name])
            }
        }
    }

    /// Endpoints disabled by their receiver, with why and since when.
    public func disabledEndpoints() async throws -> [(name: String, since: Date, reason: String)] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM endpoint_state WHERE disabled_at IS NOT NULL ORDER BY name").map {
                ($0["name"], Date(milliseconds: $0["disabled_at"]), $0["reason"] ?? "")
            }
        }
    }
}
