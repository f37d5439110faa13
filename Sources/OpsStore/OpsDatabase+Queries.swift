public import Foundation
import GRDB
public import OpsCore

/// The store's reads: jobs, due work, the history, counts. Each runs in one read transaction (a snapshot).
extension OpsDatabase {
    public func job(id: Int64) async throws -> StoredJob? {
        try await writer.read { db in try Self.fetchJob(db, id: id) }
    }

    /// Jobs newest first, optionally filtered, with ids below `before` (for paging).
    public func jobs(state: JobState?, kind: JobKind?, before: Int64?, limit: Int) async throws -> [StoredJob] {
        try await jobs(states: state.map { [$0] }, kind: kind, before: before, limit: limit)
    }

    /// Jobs in any of `states` (all states when `nil`), of `kind`, below `before`, submitted in `created` (when
    /// given), newest first.
    public func jobs(
        states: Set<JobState>?,
        kind: JobKind?,
        before: Int64?,
        createdSince: Date? = nil,
        createdUntil: Date? = nil,
        limit: Int
    ) async throws -> [StoredJob] {
        try await writer.read { db in
            var (filter, arguments) = Self.filter([
                ("kind = ?", kind?.rawValue), ("id < ?", before), ("created_at >= ?", createdSince?.milliseconds),
                ("created_at <= ?", createdUntil?.milliseconds),
            ])
            if let states {
                let names = states.map(\.rawValue).sorted()
                let clause = "state IN (\(names.map { _ in "?" }.joined(separator: ", ")))"
                filter = filter.isEmpty ? "WHERE \(clause)" : "\(filter) AND \(clause)"
                arguments += StatementArguments(names)
            }
            return try JobRecord.fetchAll(
                db,
                sql: "SELECT * FROM job \(filter) ORDER BY id DESC LIMIT ?",
                arguments: arguments + [limit]
            ).map(StoredJob.init(record:))
        }
    }

    /// A `WHERE` clause of the conditions whose value is present, and their arguments in order.
    static func filter(
        _ conditions: [(sql: String, value: (any DatabaseValueConvertible & Sendable)?)]
    )
        -> (String, StatementArguments)
    {
        let present = conditions.compactMap { condition in condition.value.map { (condition.sql, $0) } }
        guard !present.isEmpty else { return ("", []) }
        return ("WHERE " + present.map(\.0).joined(separator: " AND "), StatementArguments(present.map(\.1)))
    }

    /// Jobs whose pending action is due at `now`, earliest first.
    public func dueJobs(now: Date, limit: Int) async throws -> [StoredJob] {
        try await writer.read { db in
            try JobRecord.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT * FROM job WHERE pending_action IS NOT NULL AND next_action_at <= ?
                        ORDER BY next_action_at, id LIMIT ?
                        """
                ),
                arguments: [now.milliseconds, limit]
            ).map(StoredJob.init(record:))
        }
    }

    /// What the newest operations of each kind showed of their durations (seconds since acceptance), at most
    /// `durationHistory` per kind, oldest first.
    public func operationDurations() async throws -> [JobKind: [DurationObservation]] {
        try await writer.read { db in
            var result: [JobKind: [DurationObservation]] = [:]
            for record in try OperationDurationRecord.order(Column("id")).fetchAll(db) {
                guard let kind = JobKind(rawValue: record.kind) else { continue }
                result[kind, default: []].append(record.observation)
            }
            return result
        }
    }

    /// What the newest operations of `kind` showed of their durations, oldest first.
    public func operationDurations(of kind: JobKind) async throws -> [DurationObservation] {
        try await writer.read { db in
            try OperationDurationRecord.filter(Column("kind") == kind.rawValue).order(Column("id")).fetchAll(db)
                .map(\.observation)
        }
    }

    /// What the engine ranks due work by, without reading whole rows (no parameters decoded).
    public struct DueCandidate: Sendable {
        public var id: Int64
        public var kind: JobKind
        public var state: JobState
        public var pendingAction: PendingAction?
        public var acceptedAt: Date?
        public var nextActionAt: Date
        /// When the row last changed: for a polling job, when Kinsta was last asked about it.
        public var updatedAt: Date
        public var priority: Int

        /// The parts of the job the claim priority reads.
        public var snapshot: JobSnapshot {
            JobSnapshot(
                kind: kind,
                state: state,
                acceptedAt: acceptedAt,
                pendingAction: pendingAction,
                nextActionAt: nextActionAt
            )
        }
    }

    /// Due work, earliest first, as light rows for ranking.
    public func dueCandidates(now: Date, limit: Int) async throws -> [DueCandidate] {
        try await writer.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT id, kind, state, pending_action, accepted_at, next_action_at, updated_at, priority FROM job
                        WHERE pending_action IS NOT NULL AND next_action_at <= ? ORDER BY next_action_at, id LIMIT ?
                        """
                ),
                arguments: [now.milliseconds, limit]
            ).compactMap { row in
                guard let kind = JobKind(rawValue: row["kind"]), let state = JobState(rawValue: row["state"]) else {
                    return nil
                }
                return DueCandidate(
                    id: row["id"],
                    kind: kind,
                    state: state,
                    pendingAction: (row["pending_action"] as String?).flatMap(PendingAction.init(rawValue:)),
                    acceptedAt: (row["accepted_at"] as Int64?).map(Date.init(milliseconds:)),
                    nextActionAt: Date(milliseconds: row["next_action_at"]),
                    updatedAt: Date(milliseconds: row["updated_at"]),
                    priority: row["priority"]
                )
            }
        }
    }

    /// When the earliest pending action falls due, if any.
    public func nextActionTime() async throws -> Date? {
        try await writer.read { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT min(next_action_at) FROM job WHERE pending_action IS NOT NULL")
            )
            .map(Date.init(milliseconds:))
        }
    }

    /// Queued jobs in arrival order, and the targets and count of the jobs in flight: what the engine needs to pick
    /// which queued jobs may start.
    ///
    /// The order is ``JobPriority``'s: priority, raised by one for every 5 minutes a job has been queued (up to 10),
    /// then arrival.
    ///
    /// - Parameter urgentOnly: only the jobs that may start in the urgent headroom (own priority
    ///   ``JobPriority/urgent`` or more), read through their partial index: what the engine asks for at its limit.
    public func admissionView(
        limit: Int,
        now: Date = Date(),
        urgentOnly: Bool = false
    ) async throws -> (queued: [StoredJob], busyTargets: Set<String>, inFlight: Int) {
        try await writer.read { db in try Self.admissionView(db, limit: limit, now: now, urgentOnly: urgentOnly) }
    }

    /// ``admissionView(limit:now:urgentOnly:)`` for an engine at `inFlight` jobs of `maxInFlight`, with urgent jobs
    /// allowed up to `ceiling`, in one read: nothing when even an urgent job could not start, only the urgent ones
    /// at `maxInFlight` or more, else every queued job (`nil` queued: at the ceiling).
    public func admissionView(
        limit: Int,
        now: Date,
        maxInFlight: Int,
        ceiling: Int
    ) async throws -> (queued: [StoredJob], busyTargets: Set<String>, inFlight: Int, urgentOnly: Bool) {
        try await writer.read { db in
            let inFlight = try Self.inFlightCount(db)
            guard inFlight < ceiling else { return ([], [], inFlight, true) }
            let urgentOnly = inFlight >= maxInFlight
            let view = try Self.admissionView(db, limit: limit, now: now, urgentOnly: urgentOnly)
            return (view.queued, view.busyTargets, view.queued.isEmpty ? inFlight : view.inFlight, urgentOnly)
        }
    }

    private static func admissionView(
        _ db: Database,
        limit: Int,
        now: Date,
        urgentOnly: Bool
    ) throws -> (queued: [StoredJob], busyTargets: Set<String>, inFlight: Int) {
        // The planner, without statistics, would rather search job_state: the index is named.
        let from =
            urgentOnly
            ? "job INDEXED BY job_urgent_queued WHERE state = 'queued' AND priority >= \(JobPriority.urgent)"
            : "job WHERE state = 'queued'"
        let queued = try JobRecord.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT * FROM \(from)
                    ORDER BY min(10, priority + max(0, ? - created_at) / \(JobPriority.agingStep)) DESC, id
                    LIMIT ?
                    """
            ),
            arguments: [now.milliseconds, limit]
        ).map(StoredJob.init(record:))
        // Nothing waits: the targets in flight (thousands, on a busy daemon) need not be read.
        guard !queued.isEmpty else { return ([], [], 0) }
        let busy = try String.fetchAll(
            db.cachedStatement(sql: "SELECT target FROM job WHERE state IN \(StateSQL.inFlight)")
        )
        return (queued, Set(busy), busy.count)
    }

    /// How many jobs are in flight.
    public func inFlightCount() async throws -> Int {
        try await writer.read { db in try Self.inFlightCount(db) }
    }

    private static func inFlightCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM job WHERE state IN \(StateSQL.inFlight)"))
            ?? 0
    }

    /// Every job in one state, oldest first. Recovery reads the `submitting` ones (at most the in-flight limit)
    /// this way instead of loading every job in flight.
    public func jobs(in state: JobState) async throws -> [StoredJob] {
        try await writer.read { db in
            try JobRecord.fetchAll(
                db,
                sql: "SELECT * FROM job WHERE state = ? ORDER BY id",
                arguments: [state.rawValue]
            ).map(StoredJob.init(record:))
        }
    }

    /// Events with `seq > after` (and `seq <= through`, when given), oldest first, optionally for one job.
    public func events(
        after: Int64,
        through: Int64? = nil,
        jobID: Int64? = nil,
        limit: Int
    ) async throws -> [StoredEvent] {
        try await writer.read { db in
            let (filter, arguments) = Self.filter([
                ("seq > ?", after), ("seq <= ?", through), ("job_id = ?", jobID),
            ])
            return try EventRecord.fetchAll(
                db,
                sql: "SELECT * FROM event \(filter) ORDER BY seq LIMIT ?",
                arguments: arguments + [limit]
            ).map(StoredEvent.init(record:))
        }
    }

    /// The last `count` events (optionally of one job, and up to `through`), oldest first.
    public func lastEvents(_ count: Int, through: Int64? = nil, jobID: Int64? = nil) async throws -> [StoredEvent] {
        try await writer.read { db in
            let (filter, arguments) = Self.filter([("seq <= ?", through), ("job_id = ?", jobID)])
            let records = try EventRecord.fetchAll(
                db,
                sql: "SELECT * FROM event \(filter) ORDER BY seq DESC LIMIT ?",
                arguments: arguments + [count]
            )
            return try records.reversed().map(StoredEvent.init(record:))
        }
    }

    /// The seq of the last event stored before `date`, or 0 when none is: reading after it starts at the first
    /// event at or after `date` (`history --since`).
    ///
    /// Bisection on seq, a few primary-key reads whatever the history's size. It relies on events being stored in
    /// the order of their times, which holds to within the few milliseconds between two submissions of one group
    /// commit (each event carries its own request's time), and unless the system clock is stepped back.
    public func lastSeq(before date: Date) async throws -> Int64 {
        let limit = date.milliseconds
        return try await writer.read { db in
            guard let newest = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM event") else { return 0 }
            // Invariant: `low` is 0 or an event before `date`; no event in (low, high) has been looked at, and
            // every event from `high` on is at or after `date`.
            var low: Int64 = 0
            var high = newest + 1
            let probe = try db.cachedStatement(
                sql: "SELECT seq, at FROM event WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT 1"
            )
            while high - low > 1 {
                let middle = low + (high - low) / 2
                guard let row = try Row.fetchOne(probe, arguments: [middle, high]) else {
                    high = middle  // Nothing in [middle, high): pruned away.
                    continue
                }
                let seq: Int64 = row["seq"]
                if (row["at"] as Int64) < limit { low = seq } else { high = seq }
            }
            return low
        }
    }

    /// The jobs `jobID` comes after (`after`), in ID order.
    public func dependencies(of jobID: Int64) async throws -> [Int64] {
        try await writer.read { db in
            try Int64.fetchAll(
                db,
                sql: "SELECT after_id FROM job_dependency WHERE job_id = ? ORDER BY after_id",
                arguments: [jobID]
            )
        }
    }

    /// Counts of jobs per state.
    public func stateCounts() async throws -> [JobState: Int] {
        try await writer.read { db in
            var counts: [JobState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM job GROUP BY state") {
                if let state = JobState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// When the oldest queued job was stored, if any job waits.
    public func oldestQueuedSince() async throws -> Date? {
        try await writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT min(created_at) FROM job WHERE state = 'queued'")
                .map(Date.init(milliseconds:))
        }
    }

    /// `PRAGMA integrity_check`: `["ok"]` when the file is sound.
    public func integrityCheck() async throws -> [String] {
        try await writer.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// The job `id` as stored, read in the transaction `db` is in (the writes read their job through it too).
    static func fetchJob(_ db: Database, id: Int64) throws -> StoredJob? {
        try JobRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM job WHERE id = ?"), arguments: [id])
            .map(StoredJob.init(record:))
    }
}
