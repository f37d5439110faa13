public import Foundation
import GRDB
public import OpsCore

/// The store's writes of jobs: a new job with its first event, a transition with its event (and its observed
/// duration), pruning. Each is one transaction, so a state change and its event are committed together or not at all.
extension OpsDatabase {
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
        outbox planner: DeliveryPlanner?
    ) throws
        -> InsertResult
    {
        // Only a request with a key is ever compared: the others store no fingerprint.
        let fingerprint = new.idempotencyKey == nil ? nil : new.fingerprint
        if let key = new.idempotencyKey,
            let record = try JobRecord.filter(JobRecord.Columns.idempotencyKey == key).fetchOne(db)
        {
            let existing = try StoredJob(record: record)
            guard record.requestFingerprint == fingerprint else {
                throw StoreError(
                    code: .idempotencyConflict,
                    message: "Idempotency-Key was already used for job \(existing.id) with a different request",
                    jobID: existing.id
                )
            }
            return .existing(existing)
        }
        let ms = now.milliseconds
        var record = JobRecord(new: new, fingerprint: fingerprint, at: ms)
        try record.insertCached(db)
        let job = try StoredJob(record: record)
        let who = new.submitter.map { "submitted by uid \($0.uid), pid \($0.pid)" } ?? "submitted"
        try appendEvent(
            db,
            StoredEvent(
                seq: 0,
                at: Date(milliseconds: ms),
                jobID: job.id,
                kind: job.kind,
                from: nil,
                to: .queued,
                attempt: 1,
                operationID: nil,
                message: who
            ),
            outbox: planner
        )
        return .created(job)
    }

    /// What ``apply(_:to:now:)`` stored.
    public struct Applied: Sendable, Hashable {
        /// The job as now stored.
        public var job: StoredJob
        /// What the transition showed of the operation's duration, when it recorded it (the poll that saw the
        /// end, or the deadline of one still running: the adaptive poll schedule's history); `nil` otherwise.
        public var recordedObservation: DurationObservation?
    }

    /// Writes a transition of `job` (the version the machine read): its row and, when the state changed, its event;
    /// with a poll that saw the end (or a deadline that came first), what it showed of the operation's duration.
    ///
    /// - Returns: the job as now stored and the observation recorded, or `nil` when the job changed meanwhile (nothing
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
        // The parameters change only when secrets are erased, and the result only when the transition brings one:
        // otherwise they are not encoded and written again.
        var assignments = [
            JobRecord.Columns.state.set(to: after.state.rawValue),
            JobRecord.Columns.version.set(to: JobRecord.Columns.version + 1),
            JobRecord.Columns.attempt.set(to: after.attempt),
            JobRecord.Columns.operationID.set(to: after.operationID),
            JobRecord.Columns.acceptedAt.set(to: after.acceptedAt?.milliseconds),
            JobRecord.Columns.deadline.set(to: after.deadline?.milliseconds),
            JobRecord.Columns.pollCount.set(to: after.pollCount),
            JobRecord.Columns.errorStreak.set(to: after.errorStreak),
            JobRecord.Columns.confirmations.set(to: after.confirmations),
            JobRecord.Columns.pendingAction.set(to: after.pendingAction?.rawValue),
            JobRecord.Columns.nextActionAt.set(to: after.nextActionAt?.milliseconds),
            JobRecord.Columns.lastError.set(to: after.lastError),
            JobRecord.Columns.updatedAt.set(to: ms),
            JobRecord.Columns.finishedAt.set(to: after.state.isTerminal ? ms : nil),
            JobRecord.Columns.submissionUnclear.set(to: after.submissionUnclear),
            JobRecord.Columns.sending.set(to: after.sending),
        ]
        if transition.eraseSecrets {
            let kept = ValidatedParams(trusted: job.params.withoutSecrets, kind: job.kind)
            assignments.append(JobRecord.Columns.params.set(to: JSONText.encode(.object(kept.values))))
        }
        if let result = transition.result {
            assignments.append(JobRecord.Columns.result.set(to: JSONText.encode(result)))
        }
        // Only the version the machine read is changed: a job that moved meanwhile is left alone.
        let changed = try JobRecord.filter(JobRecord.Columns.id == job.id && JobRecord.Columns.version == job.version)
            .updateAll(db, assignments)
        guard changed == 1 else { return nil }
        if transition.changesState {
            try appendEvent(
                db,
                StoredEvent(
                    seq: 0,
                    at: Date(milliseconds: ms),
                    jobID: job.id,
                    kind: job.kind,
                    from: transition.before.state,
                    to: after.state,
                    attempt: after.attempt,
                    operationID: after.operationID,
                    message: transition.message
                ),
                outbox: outbox
            )
        }
        let observation = transition.observation(at: now, lastAskedAt: job.updatedAt)
        if let observation {
            try recordDuration(db, kind: job.kind, observation, jobID: job.id, at: ms, keep: durationHistory)
        }
        guard let stored = try fetchJob(db, id: job.id) else { return nil }
        return Applied(job: stored, recordedObservation: observation)
    }

    /// Keeps one observation and drops the kind's oldest beyond `keep`.
    private static func recordDuration(
        _ db: Database,
        kind: JobKind,
        _ observation: DurationObservation,
        jobID: Int64,
        at: Int64,
        keep: Int
    ) throws {
        try OperationDurationRecord(kind: kind.rawValue, observation: observation, jobID: jobID, at: at).insert(db)
        try db.cachedStatement(
            sql: """
                DELETE FROM operation_duration WHERE kind = ? AND id <= (
                    SELECT id FROM operation_duration WHERE kind = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                """
        )
        .execute(arguments: [kind.rawValue, kind.rawValue, keep])
    }

    /// Appends `event` to the history (its `seq` is the one the insert gives) and writes its deliveries.
    private static func appendEvent(_ db: Database, _ event: StoredEvent, outbox planner: DeliveryPlanner?) throws {
        var record = event.record
        try record.insertCached(db)
        var stored = event
        stored.seq = record.seq ?? db.lastInsertedRowID
        try writeOutbox(db, planner: planner, event: stored)
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

}
