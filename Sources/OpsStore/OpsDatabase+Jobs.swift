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

    /// One submission inside a write transaction (``WriteContext`` says where its deliveries go).
    static func insert(_ db: Database, _ new: NewJob, now: Date, _ context: WriteContext) throws -> InsertResult {
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
        // The jobs named in `after` must exist, and each output referred to must be one its kind declares.
        var kinds: [Int64: JobKind] = [:]
        for id in new.after {
            guard
                let kind = try String.fetchOne(db, sql: "SELECT kind FROM job WHERE id = ?", arguments: [id])
                    .flatMap(JobKind.init(rawValue:))
            else {
                throw StoreError(code: .unknownDependency, message: "after: there is no job \(id)", jobID: id)
            }
            kinds[id] = kind
        }
        for (name, reference) in new.params.references.sorted(by: { $0.key < $1.key }) {
            let outputs = kinds[reference.job]?.spec.outputs.map(\.name) ?? []
            guard outputs.contains(reference.output) else {
                let kind = kinds[reference.job]?.rawValue ?? "?"
                throw StoreError(
                    code: .unknownDependency,
                    message: "\(name): job \(reference.job) (\(kind)) has no output \(reference.output); "
                        + (outputs.isEmpty ? "it has none" : "it has \(outputs.joined(separator: ", "))"),
                    jobID: reference.job,
                    field: name
                )
            }
        }
        var record = JobRecord(new: new, fingerprint: fingerprint, at: ms)
        if new.hold {
            record.state = JobState.held.rawValue
        } else if !new.after.isEmpty {
            record.state = JobState.waiting.rawValue
        }
        try record.insertCached(db)
        let job = try StoredJob(record: record, params: new.params.values)
        let who =
            (new.origin ?? new.submitter.map { "submitted by uid \($0.uid), pid \($0.pid)" } ?? "submitted")
            + (new.plan.map { " as step \($0.step) of plan \($0.id)" } ?? "")
        try appendEvent(
            db,
            StoredEvent(
                seq: 0,
                at: Date(milliseconds: ms),
                jobID: job.id,
                kind: job.kind,
                from: nil,
                to: job.state,
                attempt: 1,
                operationID: nil,
                message: who
                    + (new.after.isEmpty ? "" : "; after job " + new.after.map(String.init).joined(separator: ", "))
                    + (new.hold ? "; held until approved" : "")
            ),
            context
        )
        guard !new.after.isEmpty else { return .created(job) }
        for id in new.after {
            try db.execute(
                sql: "INSERT INTO job_dependency (job_id, after_id) VALUES (?, ?)",
                arguments: [job.id, id]
            )
        }
        // Those it comes after may have ended already (a held job looks once approved).
        if !new.hold { try settleWaiting(db, jobID: job.id, now: now, context) }
        return .created(try fetchJob(db, id: job.id) ?? job)
    }

    /// A waiting job once the jobs it comes after have moved: `queued` (its parameters taken from their outputs) when
    /// all succeeded, `skipped` when one ended any other way (and then, in turn, the jobs waiting on it), unchanged
    /// while one has not ended. In the transaction of the change that moved them.
    static func settleWaiting(_ db: Database, jobID: Int64, now: Date, _ context: WriteContext) throws {
        guard let job = try fetchJob(db, id: jobID), job.state == .waiting else { return }
        let before = try JobRecord.fetchAll(
            db,
            sql: "SELECT job.* FROM job JOIN job_dependency ON job.id = after_id WHERE job_id = ? ORDER BY job.id",
            arguments: [jobID]
        ).map(StoredJob.init(record:))
        var next: JobState
        var message: String
        var params = job.params
        if let ended = before.first(where: { $0.state.isTerminal && $0.state != .succeeded }) {
            next = .skipped
            message = "skipped: job \(ended.id) (\(ended.kind.rawValue)) ended \(ended.state.rawValue)"
        } else if before.allSatisfy({ $0.state == .succeeded }) {
            let outputs = Dictionary(uniqueKeysWithValues: before.map { ($0.id, $0.outputs) })
            let taken = job.params.references.sorted { $0.key < $1.key }.map {
                "\($0.key) from job \($0.value.job)'s \($0.value.output)"
            }
            do {
                params = try job.params.resolving(outputs, defaults: context.defaults)
                next = .queued
                message =
                    "after job " + before.map { String($0.id) }.joined(separator: ", ") + " succeeded"
                    + (taken.isEmpty ? "" : "; " + taken.joined(separator: ", "))
            } catch {
                next = .skipped
                message = "skipped: \(error.message)"
            }
        } else {
            return
        }
        let ms = now.milliseconds
        try db.execute(
            sql: """
                UPDATE job SET state = ?, params = ?, target = ?, last_error = ?, version = version + 1,
                    updated_at = ?, finished_at = ?
                WHERE id = ? AND state = 'waiting'
                """,
            arguments: [
                next.rawValue, JSONText.encode(.object(next == .skipped ? params.withoutSecrets : params.values)),
                params.target, next == .skipped ? message : nil, ms, next.isTerminal ? ms : nil, jobID,
            ]
        )
        try appendEvent(
            db,
            StoredEvent(
                seq: 0,
                at: Date(milliseconds: ms),
                jobID: jobID,
                kind: job.kind,
                from: .waiting,
                to: next,
                attempt: job.snapshot.attempt,
                operationID: nil,
                message: message
            ),
            context,
            follower: true
        )
        if next.isTerminal { try releaseDependents(db, of: jobID, now: now, context) }
    }

    /// After `jobID` ended: each job waiting on it moves on (``settleWaiting(_:jobID:now:_:)``).
    static func releaseDependents(_ db: Database, of jobID: Int64, now: Date, _ context: WriteContext) throws {
        let waiting = try Int64.fetchAll(
            db,
            sql: """
                SELECT job_id FROM job_dependency JOIN job ON job.id = job_id
                WHERE after_id = ? AND job.state = 'waiting' ORDER BY job_id
                """,
            arguments: [jobID]
        )
        for id in waiting { try settleWaiting(db, jobID: id, now: now, context) }
    }

    /// What ``apply(_:to:now:)`` stored.
    public struct Applied: Sendable, Hashable {
        /// The job as now stored.
        public var job: StoredJob
        /// What the transition showed of the operation's duration, when it recorded it (the poll that saw the
        /// end, or the deadline of one still running: the adaptive poll schedule's history); `nil` otherwise.
        public var recordedObservation: DurationObservation?
        /// The other events the same transaction wrote: jobs that waited on this one moving on (or skipped, in
        /// cascade), and the end of its plan. For the journal, which otherwise hears only of the job's own.
        public var followers: [StoredEvent] = []
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
        let defaults = paramDefaults.get()
        let applied = try await writer.write { db in
            let context = WriteContext(planner: planner, defaults: defaults)
            return try Self.apply(db, transition, to: job, now: now, context, durationHistory: history)
        }
        await scrubWALIfNeeded(erased: applied != nil && Self.erasesSecrets(transition, of: job))
        return applied
    }

    /// Applies `transition(job)` to the job `id` as currently stored, in one transaction: for admin actions (cancel,
    /// retry) that must see the latest row.
    ///
    /// - Returns: the job as now stored, the transition, and what followed from it (``Applied/followers``); `nil` when
    ///   there is no such job; rethrows what `transition` throws.
    public func update(
        jobID id: Int64,
        now: Date,
        _ transition: @Sendable (StoredJob) throws -> Transition
    ) async throws -> (job: StoredJob, transition: Transition, followers: [StoredEvent])? {
        defer { changes.notify() }
        let planner = outbox.get()
        let history = durationHistory
        let defaults = paramDefaults.get()
        let updated = try await writer.write {
            db -> (job: StoredJob, change: Transition, followers: [StoredEvent], erased: Bool)? in
            guard let job = try Self.fetchJob(db, id: id) else { return nil }
            let change = try transition(job)
            let context = WriteContext(planner: planner, defaults: defaults)
            guard let updated = try Self.apply(db, change, to: job, now: now, context, durationHistory: history)
            else { return nil }
            return (updated.job, change, updated.followers, Self.erasesSecrets(change, of: job))
        }
        await scrubWALIfNeeded(erased: updated?.erased ?? false)
        return updated.map { ($0.job, $0.change, $0.followers) }
    }

    /// Whether `transition` removes secrets `job` still holds (every terminal transition asks to erase them, most
    /// find none left).
    private static func erasesSecrets(_ transition: Transition, of job: StoredJob) -> Bool {
        transition.eraseSecrets && job.params.withoutSecrets.count < job.params.values.count
    }

    static func apply(
        _ db: Database,
        _ transition: Transition,
        to job: StoredJob,
        now: Date,
        _ context: WriteContext,
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
                context
            )
        }
        if transition.changesState, after.state.isTerminal {
            try releaseDependents(db, of: job.id, now: now, context)
        }
        if transition.changesState, after.state == .waiting {
            // Approved: the jobs it comes after may all have ended meanwhile.
            try settleWaiting(db, jobID: job.id, now: now, context)
        }
        let observation = transition.observation(at: now, lastAskedAt: job.updatedAt)
        if let observation {
            try recordDuration(db, kind: job.kind, observation, jobID: job.id, at: ms, keep: durationHistory)
        }
        guard let stored = try fetchJob(db, id: job.id) else { return nil }
        return Applied(job: stored, recordedObservation: observation, followers: context.followers)
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

    /// Appends `event` to the history (its `seq` is the one the insert gives) and writes its deliveries; an event
    /// that ends a job of a plan may end the plan (``finishPlanIfDone(_:after:now:_:)``).
    ///
    /// - Parameter follower: the event is not the change the transaction was asked for but one that followed from it
    ///   (``Applied/followers``).
    static func appendEvent(
        _ db: Database,
        _ event: StoredEvent,
        _ context: WriteContext,
        follower: Bool = false
    )
        throws
    {
        var record = event.record
        try record.insertCached(db)
        var stored = event
        stored.seq = record.seq ?? db.lastInsertedRowID
        try writeOutbox(db, context, event: stored)
        if follower { context.followers.append(stored) }
        if stored.planID == nil, stored.to.isTerminal {
            try finishPlanIfDone(db, after: stored, now: stored.at, context)
        }
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
            let deleted = db.changesCount
            // A plan goes once its last job has.
            try db.execute(
                sql: """
                    DELETE FROM plan WHERE finished_at < ?
                      AND NOT EXISTS (SELECT 1 FROM job WHERE job.plan_id = plan.id)
                    """,
                arguments: [cutoff.milliseconds]
            )
            return deleted
        }
    }

}
