public import Foundation
public import GRDB
public import OpsCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's SQLite database, over any GRDB `DatabaseWriter` (as GRDB's demo `AppDatabase` is): in the daemon one
/// `DatabasePool` per process (WAL, `synchronous=FULL`, see ``init(path:durationHistory:)``), in store tests that are
/// not about files an in-memory `DatabaseQueue`. One write transaction per invariant: a state change and its event
/// are committed together or not at all.
public struct OpsDatabase: Sendable {
    /// Every read and write goes through it.
    let writer: any DatabaseWriter
    /// Which deliveries each event makes; set by the daemon from its webhook configuration (and again on SIGHUP).
    let outbox = OutboxBox()
    /// Where the database file lives (`:memory:` for an in-memory one).
    public let path: String
    /// Observed operation durations kept per kind (the adaptive poll schedule's history).
    public let durationHistory: Int
    /// Signalled after every committed write.
    public let changes = ChangeFeed()
    /// Whether writes go through, as the last commits found (a full disk stops them all).
    public let storage = StorageHealth()
    /// Submissions waiting for the running ``GroupCommit``.
    let submissions = SubmissionQueue()
    /// How long a statement waits for a lock another connection holds (GRDB sets it with `sqlite3_busy_timeout`).
    static let busyTimeout: TimeInterval = 5
    /// Set while erased secrets may still be in the WAL: the checkpoint after the erase found readers in the way.
    let walScrubPending = PendingFlag()

    /// The store over `writer`, its pending migrations run. The writer's connections must have been set up as the
    /// store expects (``configuration``): ``init(path:durationHistory:)`` does that for the daemon's file.
    public init(_ writer: any DatabaseWriter, durationHistory: Int = 500) throws {
        try Schema.migrator.migrate(writer)
        self.writer = writer
        self.path = writer.path
        self.durationHistory = max(1, durationHistory)
    }

    /// Opens (creating if needed, mode 0600) the database file at `path` as the process's one `DatabasePool`, and
    /// runs pending migrations.
    ///
    /// An existing file is first read through a read-only connection (``StartupCheck``): a damaged file, or one that a
    /// newer version migrated, is refused with ``DatabaseRefusal`` before anything can write to it.
    public init(path: String, durationHistory: Int = 500) throws {
        try StartupCheck.verify(path: path, migrator: Schema.migrator)
        // Create the file owner-only before SQLite touches it; SQLite gives -wal and -shm the same mode.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        chmod(path, 0o600)
        try self.init(DatabasePool(path: path, configuration: Self.configuration), durationHistory: durationHistory)
    }

    /// An empty database in memory, with the daemon's schema and connection settings: for tests of what does not
    /// depend on files (WAL, durability, file modes). Nothing of it outlives the value.
    package static func inMemory(durationHistory: Int = 500) throws -> OpsDatabase {
        try OpsDatabase(DatabaseQueue(configuration: configuration), durationHistory: durationHistory)
    }

    /// How every connection of the store is set up.
    static var configuration: Configuration {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Erased secrets (admin_password) are overwritten on disk, not left in free pages; their older copies in
            // the WAL are removed by the checkpoint that follows the erase (scrubWALIfNeeded).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.label = "kinsta-opsd"
        return configuration
    }

    /// Closes the idle reader connections and shrinks the writer's cache once their work is done: what a burst of
    /// concurrent reads (hundreds of follow streams catching up) opened is not kept for good.
    public func releaseMemoryEventually() {
        // An in-memory queue has no readers to close.
        (writer as? DatabasePool)?.releaseMemoryEventually()
    }

    /// Sets (or clears) what deliveries events make from now on.
    public func setDeliveryPlanner(_ writer: DeliveryPlanner?) {
        outbox.set(writer)
    }

    // MARK: - Writes

    /// What `insert` did.
    public enum InsertResult: Sendable {
        case created(StoredJob)
        /// The idempotency key was seen with the same request: the original job.
        case existing(StoredJob)
    }

    /// Stores a new queued job and its first event, durably, before the caller answers.
    ///
    /// While the database's ``GroupCommit`` runs, submissions that arrive while a commit is under way are written
    /// together in its next transaction; otherwise this one is committed alone, in the caller's task. Either way the
    /// caller returns only after the transaction holding its job committed.
    ///
    /// - Throws: ``StoreError`` `.idempotencyConflict` when the key was used for a different request.
    public func insert(_ new: NewJob, now: Date) async throws -> InsertResult {
        defer { changes.notify() }
        let ticket = await withCheckedContinuation {
            (continuation: CheckedContinuation<SubmissionQueue.Ticket, Never>) in
            if !submissions.enqueue(SubmissionQueue.Item(new: new, now: now, continuation: continuation)) {
                continuation.resume(returning: .writeYourself)
            }
        }
        switch ticket {
        case .done(let result):
            return try result.get()
        case .writeYourself:
            return try await write([(new, now)])[0].get()
        }
    }

    /// One submission inside a write transaction.
    static func insert(
        _ db: Database,
        _ new: NewJob,
        now: Date,
        outbox writer: DeliveryPlanner?
    ) throws
        -> InsertResult
    {
        // Only a request with a key is ever compared: the others store no fingerprint.
        let fingerprint = new.idempotencyKey == nil ? nil : new.fingerprint
        if let key = new.idempotencyKey,
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM job WHERE idempotency_key = ?"),
                arguments: [key]
            )
        {
            let existing = try StoredJob(row: row)
            guard row["request_fingerprint"] == fingerprint else {
                throw StoreError(
                    code: .idempotencyConflict,
                    message: "Idempotency-Key was already used for job \(existing.id) with a different request",
                    jobID: existing.id
                )
            }
            return .existing(existing)
        }
        let ms = now.milliseconds
        try db.cachedStatement(
            sql: """
                INSERT INTO job (kind, params, note, target, state, created_at, updated_at,
                    submitter_uid, submitter_gid, submitter_pid, idempotency_key, request_fingerprint)
                VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)
                """
        )
        .execute(arguments: [
            new.params.kind.rawValue, JSONText.encode(.object(new.params.values)), new.note,
            new.params.target, ms, ms, new.submitter?.uid, new.submitter?.gid, new.submitter?.pid,
            new.idempotencyKey, fingerprint,
        ])
        let id = db.lastInsertedRowID
        let who = new.submitter.map { "submitted by uid \($0.uid), pid \($0.pid)" } ?? "submitted"
        try appendEvent(
            db,
            at: ms,
            jobID: id,
            kind: new.params.kind,
            from: nil,
            to: .queued,
            attempt: 1,
            operationID: nil,
            message: who,
            outbox: writer
        )
        return .created(try fetchJob(db, id: id)!)
    }

    /// What ``apply(_:to:now:)`` stored.
    public struct Applied: Sendable, Hashable {
        /// The job as now stored.
        public var job: StoredJob
        /// The operation's observed duration in seconds, when the transition recorded one with the success (for the
        /// adaptive poll schedule's history); `nil` otherwise.
        public var recordedDuration: Double?
    }

    /// Writes a transition of `job` (the version the machine read): its row and, when the state changed, its event;
    /// with a success that a poll saw, the operation's observed duration.
    ///
    /// - Returns: the job as now stored and the duration recorded, or `nil` when the job changed meanwhile (nothing
    ///   is written then).
    @discardableResult
    public func apply(_ transition: Transition, to job: StoredJob, now: Date) async throws -> Applied? {
        defer { changes.notify() }
        let planner = outbox.get()
        let history = durationHistory
        let applied = try await writer.write { db in
            try Self.apply(db, transition, to: job, now: now, outbox: planner, durationHistory: history)
        }
        await scrubWALIfNeeded(erased: applied != nil && Self.erasesSecrets(transition, of: job))
        return applied
    }

    /// Applies `transition(job)` to the job `id` as currently stored, in one transaction: for admin actions (cancel,
    /// retry) that must see the latest row.
    ///
    /// - Returns: `nil` when there is no such job; rethrows what `transition` throws.
    public func update(
        jobID id: Int64,
        now: Date,
        _ transition: @Sendable (StoredJob) throws -> Transition
    ) async throws -> (StoredJob, Transition)? {
        defer { changes.notify() }
        let planner = outbox.get()
        let history = durationHistory
        let updated = try await writer.write { db -> (job: StoredJob, change: Transition, erased: Bool)? in
            guard let job = try Self.fetchJob(db, id: id) else { return nil }
            let change = try transition(job)
            guard let updated = try Self.apply(db, change, to: job, now: now, outbox: planner, durationHistory: history)
            else { return nil }
            return (updated.job, change, Self.erasesSecrets(change, of: job))
        }
        await scrubWALIfNeeded(erased: updated?.erased ?? false)
        return updated.map { ($0.job, $0.change) }
    }

    /// Whether `transition` removes secrets `job` still holds (every terminal transition asks to erase them, most
    /// find none left).
    private static func erasesSecrets(_ transition: Transition, of job: StoredJob) -> Bool {
        transition.eraseSecrets && job.params.withoutSecrets.count < job.params.values.count
    }

    private static func apply(
        _ db: Database,
        _ transition: Transition,
        to job: StoredJob,
        now: Date,
        outbox: DeliveryPlanner?,
        durationHistory: Int
    ) throws -> Applied? {
        let after = transition.after
        let ms = now.milliseconds
        var params = job.params
        if transition.eraseSecrets {
            params = ValidatedParams(trusted: job.params.withoutSecrets, kind: job.kind)
        }
        let result = transition.result.map { JSONText.encode($0) }
        // The parameters change only when secrets are erased: otherwise they are not encoded and written again.
        let newParams = transition.eraseSecrets ? JSONText.encode(.object(params.values)) : nil
        try db.cachedStatement(
            sql: """
                UPDATE job SET state = ?, version = version + 1, attempt = ?, operation_id = ?, accepted_at = ?,
                    deadline = ?, poll_count = ?, error_streak = ?, confirmations = ?, pending_action = ?,
                    next_action_at = ?, last_error = ?, params = coalesce(?, params), result = coalesce(?, result),
                    updated_at = ?, finished_at = ?, submission_unclear = ?, sending = ?
                WHERE id = ? AND version = ?
                """
        )
        .execute(arguments: [
            after.state.rawValue, after.attempt, after.operationID, after.acceptedAt?.milliseconds,
            after.deadline?.milliseconds, after.pollCount, after.errorStreak, after.confirmations,
            after.pendingAction?.rawValue, after.nextActionAt?.milliseconds, after.lastError,
            newParams, result, ms,
            after.state.isTerminal ? ms : nil, after.submissionUnclear, after.sending, job.id, job.version,
        ])
        guard db.changesCount == 1 else { return nil }
        if transition.changesState {
            try appendEvent(
                db,
                at: ms,
                jobID: job.id,
                kind: job.kind,
                from: transition.before.state,
                to: after.state,
                attempt: after.attempt,
                operationID: after.operationID,
                message: transition.message,
                outbox: outbox
            )
        }
        let duration = transition.observedDuration(at: now, lastAskedAt: job.updatedAt)
        if let duration {
            try recordDuration(db, kind: job.kind, seconds: duration, jobID: job.id, at: ms, keep: durationHistory)
        }
        guard let stored = try fetchJob(db, id: job.id) else { return nil }
        return Applied(job: stored, recordedDuration: duration)
    }

    /// Keeps one observed duration and drops the kind's oldest beyond `keep`.
    private static func recordDuration(
        _ db: Database,
        kind: JobKind,
        seconds: Double,
        jobID: Int64,
        at: Int64,
        keep: Int
    ) throws {
        try db.cachedStatement(sql: "INSERT INTO operation_duration (kind, seconds, job_id, at) VALUES (?, ?, ?, ?)")
            .execute(arguments: [kind.rawValue, seconds, jobID, at])
        try db.cachedStatement(
            sql: """
                DELETE FROM operation_duration WHERE kind = ? AND id <= (
                    SELECT id FROM operation_duration WHERE kind = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                """
        )
        .execute(arguments: [kind.rawValue, kind.rawValue, keep])
    }

    private static func appendEvent(
        _ db: Database,
        at: Int64,
        jobID: Int64,
        kind: JobKind,
        from: JobState?,
        to: JobState,
        attempt: Int,
        operationID: String?,
        message: String?,
        outbox: DeliveryPlanner?
    ) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO event (at, job_id, kind, from_state, to_state, attempt, operation_id, message)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        .execute(arguments: [at, jobID, kind.rawValue, from?.rawValue, to.rawValue, attempt, operationID, message])
        let event = StoredEvent(
            seq: db.lastInsertedRowID,
            at: Date(milliseconds: at),
            jobID: jobID,
            kind: kind,
            from: from,
            to: to,
            attempt: attempt,
            operationID: operationID,
            message: message
        )
        try writeOutbox(db, writer: outbox, event: event)
    }

    /// Deletes up to `limit` jobs that ended before `cutoff`, with their events (cascade), in one transaction.
    /// The `seq` of every remaining event is untouched, and no seq is ever reused.
    ///
    /// - Returns: how many jobs were deleted; fewer than `limit` means nothing older remains.
    public func pruneFinished(before cutoff: Date, limit: Int) async throws -> Int {
        defer { changes.notify() }
        return try await writer.write { db in
            try db.execute(
                sql: """
                    DELETE FROM job WHERE id IN (
                        SELECT id FROM job
                        WHERE state IN \(StateSQL.terminal)
                          AND finished_at < ?
                        ORDER BY finished_at LIMIT ?)
                    """,
                arguments: [cutoff.milliseconds, limit]
            )
            return db.changesCount
        }
    }

    // MARK: - Reads

    public func job(id: Int64) async throws -> StoredJob? {
        try await writer.read { db in try Self.fetchJob(db, id: id) }
    }

    /// Jobs newest first, optionally filtered, with ids below `before` (for paging).
    public func jobs(state: JobState?, kind: JobKind?, before: Int64?, limit: Int) async throws -> [StoredJob] {
        try await writer.read { db in
            let (filter, arguments) = Self.filter([
                ("state = ?", state?.rawValue), ("kind = ?", kind?.rawValue), ("id < ?", before),
            ])
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM job \(filter) ORDER BY id DESC LIMIT ?",
                arguments: arguments + [limit]
            ).map(StoredJob.init(row:))
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
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT * FROM job WHERE pending_action IS NOT NULL AND next_action_at <= ?
                        ORDER BY next_action_at, id LIMIT ?
                        """
                ),
                arguments: [now.milliseconds, limit]
            ).map(StoredJob.init(row:))
        }
    }

    /// The newest observed durations (seconds from acceptance to the poll that saw 200) of each kind, at most
    /// `durationHistory` per kind, oldest first.
    public func operationDurations() async throws -> [JobKind: [Double]] {
        try await writer.read { db in
            var result: [JobKind: [Double]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT kind, seconds FROM operation_duration ORDER BY id") {
                guard let kind = JobKind(rawValue: row["kind"]) else { continue }
                result[kind, default: []].append(row["seconds"])
            }
            return result
        }
    }

    /// The observed durations of `kind`, oldest first.
    public func operationDurations(of kind: JobKind) async throws -> [Double] {
        try await writer.read { db in
            try Double.fetchAll(
                db,
                sql: "SELECT seconds FROM operation_duration WHERE kind = ? ORDER BY id",
                arguments: [kind.rawValue]
            )
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
                        SELECT id, kind, state, pending_action, accepted_at, next_action_at, updated_at FROM job
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
                    updatedAt: Date(milliseconds: row["updated_at"])
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
    public func admissionView(limit: Int) async throws -> (queued: [StoredJob], busyTargets: Set<String>, inFlight: Int)
    {
        try await writer.read { db in
            let queued = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM job WHERE state = 'queued' ORDER BY id LIMIT ?"),
                arguments: [limit]
            ).map(StoredJob.init(row:))
            // Nothing waits: the targets in flight (thousands, on a busy daemon) need not be read.
            guard !queued.isEmpty else { return ([], [], 0) }
            let busy = try String.fetchAll(
                db.cachedStatement(sql: "SELECT target FROM job WHERE state IN \(StateSQL.inFlight)")
            )
            return (queued, Set(busy), busy.count)
        }
    }

    /// How many jobs are in flight.
    public func inFlightCount() async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT count(*) FROM job WHERE state IN \(StateSQL.inFlight)")
            )
                ?? 0
        }
    }

    /// Every job in one state, oldest first. Recovery reads the `submitting` ones (at most the in-flight limit)
    /// this way instead of loading every job in flight.
    public func jobs(in state: JobState) async throws -> [StoredJob] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM job WHERE state = ? ORDER BY id", arguments: [state.rawValue])
                .map(StoredJob.init(row:))
        }
    }

    /// Events with `seq > after`, oldest first, optionally for one job.
    public func events(after: Int64, jobID: Int64? = nil, limit: Int) async throws -> [StoredEvent] {
        try await writer.read { db in
            if let jobID {
                return try Row.fetchAll(
                    db,
                    sql: "SELECT * FROM event WHERE seq > ? AND job_id = ? ORDER BY seq LIMIT ?",
                    arguments: [after, jobID, limit]
                ).map(StoredEvent.init(row:))
            }
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM event WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [after, limit]
            ).map(StoredEvent.init(row:))
        }
    }

    /// The last `count` events (optionally of one job), oldest first.
    public func lastEvents(_ count: Int, jobID: Int64? = nil) async throws -> [StoredEvent] {
        try await writer.read { db in
            let rows: [Row]
            if let jobID {
                rows = try Row.fetchAll(
                    db,
                    sql: "SELECT * FROM event WHERE job_id = ? ORDER BY seq DESC LIMIT ?",
                    arguments: [jobID, count]
                )
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM event ORDER BY seq DESC LIMIT ?", arguments: [count])
            }
            return try rows.reversed().map(StoredEvent.init(row:))
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

    /// Runs raw SQL, for tests that inject faults. Not part of the API.
    package func executeForTesting(_ sql: String) async throws {
        try await writer.write { db in try db.execute(sql: sql) }
    }

    /// Runs `body` inside a read transaction that has read from the database, so it holds its snapshot (and the WAL)
    /// until `body` returns: for tests of what a long reader delays.
    package func readForTesting(_ body: @escaping @Sendable () -> Void) async throws {
        try await writer.read { db in
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM job")
            body()
        }
    }

    /// Closes every connection (the last one checkpoints and removes the WAL), for tests that then look at the file
    /// alone. The database cannot be used afterwards.
    package func closeForTesting() throws {
        try writer.close()
    }

    /// Copies the WAL into the main file and empties it, for tests that inspect the bytes on disk.
    package func checkpointForTesting() async throws {
        try await writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    static func fetchJob(_ db: Database, id: Int64) throws -> StoredJob? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM job WHERE id = ?"), arguments: [id])
            .map(StoredJob.init(row:))
    }
}

extension StoredJob {
    init(row: Row) throws {
        let kindText: String = row["kind"]
        let stateText: String = row["state"]
        let id: Int64 = row["id"]
        guard let kind = JobKind(rawValue: kindText), let state = JobState(rawValue: stateText),
            case .object(let values)? = JSONText.decode(row["params"])
        else {
            throw StoreError(code: .corruptRow, message: "job \(id) has an unreadable kind, state or params", jobID: id)
        }
        let pending: String? = row["pending_action"]
        self.init(
            id: id,
            params: ValidatedParams(trusted: values, kind: kind),
            note: row["note"],
            target: row["target"],
            version: row["version"],
            snapshot: JobSnapshot(
                kind: kind,
                state: state,
                attempt: row["attempt"],
                operationID: row["operation_id"],
                acceptedAt: (row["accepted_at"] as Int64?).map(Date.init(milliseconds:)),
                deadline: (row["deadline"] as Int64?).map(Date.init(milliseconds:)),
                pollCount: row["poll_count"],
                errorStreak: row["error_streak"],
                confirmations: row["confirmations"],
                pendingAction: pending.flatMap(PendingAction.init(rawValue:)),
                nextActionAt: (row["next_action_at"] as Int64?).map(Date.init(milliseconds:)),
                lastError: row["last_error"],
                submissionUnclear: row["submission_unclear"],
                sending: row["sending"]
            ),
            result: (row["result"] as String?).flatMap(JSONText.decode),
            createdAt: Date(milliseconds: row["created_at"]),
            updatedAt: Date(milliseconds: row["updated_at"]),
            finishedAt: (row["finished_at"] as Int64?).map(Date.init(milliseconds:)),
            submitter: (row["submitter_uid"] as Int64?).map {
                Peer(
                    uid: UInt32($0),
                    gid: UInt32(row["submitter_gid"] as Int64? ?? 0),
                    pid: Int32(row["submitter_pid"] as Int64? ?? 0)
                )
            },
            idempotencyKey: row["idempotency_key"]
        )
    }
}

extension StoredEvent {
    init(row: Row) throws {
        let seq: Int64 = row["seq"]
        guard let kind = JobKind(rawValue: row["kind"]), let to = JobState(rawValue: row["to_state"]) else {
            throw StoreError(code: .corruptRow, message: "event \(seq) has an unreadable kind or state", jobID: nil)
        }
        self.init(
            seq: seq,
            at: Date(milliseconds: row["at"]),
            jobID: row["job_id"],
            kind: kind,
            from: (row["from_state"] as String?).flatMap(JobState.init(rawValue:)),
            to: to,
            attempt: row["attempt"],
            operationID: row["operation_id"],
            message: row["message"]
        )
    }
}

/// The current delivery planner, swapped on SIGHUP.
final class OutboxBox: Sendable {
    private let value = Mutex<DeliveryPlanner?>(nil)

    func get() -> DeliveryPlanner? { value.withLock { $0 } }

    func set(_ writer: DeliveryPlanner?) { value.withLock { $0 = writer } }
}
