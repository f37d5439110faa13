#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// An input to a job's state machine.
public enum JobInput: Sendable, Hashable {
    /// The engine takes a queued job: its attempt starts and it is committed as `submitting` before any POST.
    case begin
    /// The daemon started and found the job in flight: a `submitting` job may or may not have reached Kinsta.
    case recovered
    /// The engine is about to send the job's submission: committed first, so a restart knows it may have left.
    case sending
    case submitted(SubmitOutcome)
    case polled(PollOutcome)
    case reconciled(ReconcileOutcome)
    /// An admin withdraws a queued job.
    case cancel
    /// An admin asks for a new attempt of a job that ended without success.
    case retry
    /// An admin releases a held job: it goes on to `waiting` when it comes after jobs (`waitsForOthers`), else to
    /// `queued`.
    case approve(waitsForOthers: Bool)
}

/// The pure job state machine: `(job, input, now, rng) → transition`. It reads no clock and draws no randomness of
/// its own; the engine executes what the new snapshot asks for (`pendingAction` at `nextActionAt`).
///
/// ```
/// queued ─begin→ submitting ─202→ accepted ─202→ running ─200→ succeeded
///    │              │  ╰─4xx→ failed        │ ╰─confirmed 500 → failed
///    ╰─cancel→ cancelled                    ╰─deadline→ timed_out
///                   ╰─unclear → reconcile → succeeded | resubmit | needs_attention
/// ```
public struct JobMachine: Sendable {
    public var policy: PollPolicy

    public init(policy: PollPolicy) {
        self.policy = policy
    }

    /// Applies `input` to `job` at `now`.
    ///
    /// - Throws: ``TransitionRefused`` when the input makes no sense in the job's state (cancel once submitted, retry
    ///   of a running job, a poll answer for a job that is not polling).
    public func step(
        _ job: JobSnapshot,
        _ input: JobInput,
        now: Date,
        using rng: inout some RandomNumberGenerator
    ) throws(TransitionRefused) -> Transition {
        var next = job
        var change = Change()
        switch input {
        case .begin:
            guard job.state == .queued else { throw refused(job, "started") }
            next = JobSnapshot(kind: job.kind, state: .submitting, attempt: job.attempt)
            next.deadline = policy.deadline(for: job.kind, startingAt: now)
            next.pendingAction = .submit
            next.nextActionAt = now
            change.message = "submitting to Kinsta"

        case .recovered:
            guard job.state.isInFlight else { return Transition(before: job, after: job, eraseSecrets: false) }
            if job.state == .submitting, job.sending {
                // The POST may or may not have left before the daemon stopped: never send it again blindly.
                next.sending = false
                next.submissionUnclear = true
                next.pendingAction = .reconcile
                next.nextActionAt = now
                next.lastError = "daemon restarted while a submission was on its way; settling by reading Kinsta"
            }
        // Otherwise nothing left since the last answer: the pending action goes on as stored.

        case .sending:
            // Marked once: a job already marked sent a POST whose answer was not recorded, and is settled by reading.
            guard job.state == .submitting, job.pendingAction == .submit, !job.sending else {
                throw refused(job, "sent")
            }
            next.sending = true

        case .submitted(let outcome):
            guard job.state == .submitting, job.pendingAction == .submit else {
                throw refused(job, "given a submit answer")
            }
            next.sending = false
            submitted(outcome, &next, &change, now: now, rng: &rng)

        case .polled(let outcome):
            guard job.state == .accepted || job.state == .running, job.pendingAction == .poll else {
                throw refused(job, "given a poll answer")
            }
            polled(outcome, &next, &change, now: now, rng: &rng)

        case .reconciled(let outcome):
            guard job.state.isInFlight, job.pendingAction == .reconcile else {
                throw refused(job, "given a reconciliation")
            }
            reconciled(outcome, &next, &change, now: now, rng: &rng)

        case .cancel:
            guard job.state == .queued || job.state == .waiting || job.state == .held else {
                throw TransitionRefused(
                    "job is \(job.state.rawValue); only held, waiting or queued jobs can be cancelled (it may already "
                        + "be at Kinsta)"
                )
            }
            next.state = .cancelled
            next.pendingAction = nil
            next.nextActionAt = nil
            change.message = "cancelled before submission"
            change.eraseSecrets = true

        case .approve(let waitsForOthers):
            guard job.state == .held else {
                throw TransitionRefused("job is \(job.state.rawValue); only a held job can be approved")
            }
            next.state = waitsForOthers ? .waiting : .queued
            change.message = "approved"

        case .retry:
            guard job.state == .failed || job.state == .timedOut || job.state == .needsAttention else {
                throw TransitionRefused(
                    "job is \(job.state.rawValue); only failed, timed_out or needs_attention jobs can be retried"
                )
            }
            if job.state == .timedOut, let operationID = job.operationID {
                // Kinsta has the operation: watch it again rather than start a second one.
                next = JobSnapshot(kind: job.kind, state: .running, attempt: job.attempt + 1, operationID: operationID)
                next.acceptedAt = job.acceptedAt
                next.deadline = policy.deadline(for: job.kind, startingAt: now)
                next.pendingAction = .poll
                next.nextActionAt = now
                change.message = "retry: watching operation \(operationID) again"
            } else {
                next = JobSnapshot(kind: job.kind, state: .queued, attempt: job.attempt + 1)
                change.message = "retry: queued as attempt \(job.attempt + 1)"
            }
        }
        if next.state.isTerminal {
            next.pendingAction = nil
            next.nextActionAt = nil
            change.eraseSecrets = true
        }
        return Transition(
            before: job,
            after: next,
            message: change.message,
            result: change.result,
            eraseSecrets: change.eraseSecrets
        )
    }

    // MARK: - Inputs

    private struct Change {
        var message: String?
        var result: JSONValue?
        var eraseSecrets = false
    }

    private func submitted(
        _ outcome: SubmitOutcome,
        _ job: inout JobSnapshot,
        _ change: inout Change,
        now: Date,
        rng: inout some RandomNumberGenerator
    ) {
        switch outcome {
        case .accepted(let operationID):
            job.state = .accepted
            job.operationID = operationID
            job.acceptedAt = now
            job.pollCount = 0
            job.errorStreak = 0
            job.confirmations = 0
            job.lastError = nil
            job.pendingAction = .poll
            job.nextActionAt = clamp(now.addingTimeInterval(policy.nextPollDelay(for: job, now: now, using: &rng)), job)
            change.message = "Kinsta accepted the job as operation \(operationID)"
            change.eraseSecrets = true
        case .rejected(let status, let message) where job.submissionUnclear && job.kind.spec.settle.canRead:
            // A repeat of a submission whose first answer was lost, refused: a delete's site is not found, a create's
            // display name is "already used". The first one may have done the job: read Kinsta, do not believe it.
            retryLater(
                &job,
                change: &change,
                reason: "Kinsta refused the repeat (HTTP \(status): \(message)); an earlier submission whose answer "
                    + "was lost may have done the job: reading Kinsta",
                retryAfter: nil,
                now: now,
                rng: &rng,
                action: .reconcile
            )
        case .rejected(let status, let message):
            job.state = .failed
            job.lastError = "Kinsta refused the job (HTTP \(status)): \(message)"
            change.message = job.lastError
        case .unauthorized(let message):
            job.state = .needsAttention
            job.lastError =
                "Kinsta refused the API key (\(message)); nothing was created. Fix the key, then retry the job"
            change.message = job.lastError
        case .rateLimited(let retryAfter):
            retryLater(
                &job,
                change: &change,
                reason: "rate limited by Kinsta (429)",
                retryAfter: retryAfter,
                now: now,
                rng: &rng,
                action: .submit
            )
        case .notSent(let reason):
            retryLater(&job, change: &change, reason: reason, retryAfter: nil, now: now, rng: &rng, action: .submit)
        case .serverError(let status, let message) where !job.kind.spec.resubmitIsHarmless:
            // A 5xx does not prove Kinsta did nothing (its own 500 for a create reads "Error occurred while creating
            // a site"; a proxy's 502/504 can follow a request the origin took): read before sending again.
            job.submissionUnclear = true
            retryLater(
                &job,
                change: &change,
                reason: "Kinsta answered HTTP \(status) (\(message)), which does not show that nothing was done; "
                    + "settling by reading Kinsta before sending again",
                retryAfter: nil,
                now: now,
                rng: &rng,
                action: .reconcile
            )
        case .serverError(let status, let message):
            // A repeat is harmless (a delete): send again, but remember the first may have done it, so a 404 to the
            // repeat is read rather than believed.
            job.submissionUnclear = true
            retryLater(
                &job,
                change: &change,
                reason: "Kinsta answered HTTP \(status): \(message)",
                retryAfter: nil,
                now: now,
                rng: &rng,
                action: .submit
            )
        case .busy(let message):
            retryLater(
                &job,
                change: &change,
                reason: "Kinsta says the target is busy (\(message)); sending again later",
                retryAfter: nil,
                now: now,
                rng: &rng,
                action: .submit
            )
        case .ambiguous(let reason):
            job.submissionUnclear = true
            retryLater(
                &job,
                change: &change,
                reason: "submission unclear (\(reason)); settling by reading Kinsta",
                retryAfter: nil,
                now: now,
                rng: &rng,
                action: .reconcile
            )
        }
    }

    private func polled(
        _ outcome: PollOutcome,
        _ job: inout JobSnapshot,
        _ change: inout Change,
        now: Date,
        rng: inout some RandomNumberGenerator
    ) {
        job.pollCount += 1
        switch outcome {
        case .finished(let data):
            job.state = .succeeded
            job.lastError = nil
            change.result = data
            change.message = "Kinsta finished the operation"
            return
        case .inProgress:
            if job.state == .accepted { change.message = "Kinsta is working on it" }
            job.state = .running
            job.errorStreak = 0
            job.confirmations = 0
            job.lastError = nil
            job.nextActionAt = clamp(now.addingTimeInterval(policy.nextPollDelay(for: job, now: now, using: &rng)), job)
        case .notFound:
            if job.state == .accepted, let acceptedAt = job.acceptedAt,
                policy.isInStartupWindow(acceptedAt: acceptedAt, now: now)
            {
                job.errorStreak = 0
                job.nextActionAt = clamp(
                    now.addingTimeInterval(policy.nextPollDelay(for: job, now: now, using: &rng)),
                    job
                )
            } else {
                confirm(
                    &job,
                    change: &change,
                    now: now,
                    rng: &rng,
                    reason: "operation not found (404) after the start-up window"
                ) { job, _ in
                    // Settle it by reading the resource rather than guessing.
                    job.pendingAction = .reconcile
                    job.nextActionAt = now
                }
            }
        case .failed(let message):
            confirm(&job, change: &change, now: now, rng: &rng, reason: "Kinsta reports failure: \(message)") {
                job,
                change in
                job.state = .failed
                job.lastError = "Kinsta reports the operation failed: \(message)"
                change.message = job.lastError
            }
        case .rateLimited(let retryAfter):
            retryLater(
                &job,
                change: &change,
                reason: "rate limited by Kinsta (429)",
                retryAfter: retryAfter,
                now: now,
                rng: &rng,
                action: .poll
            )
        case .unauthorized(let message):
            retryLater(
                &job,
                change: &change,
                reason: "Kinsta refused the API key (\(message))",
                retryAfter: nil,
                now: now,
                rng: &rng,
                action: .poll
            )
        case .transient(let reason):
            retryLater(&job, change: &change, reason: reason, retryAfter: nil, now: now, rng: &rng, action: .poll)
        }
        if !job.state.isTerminal { timeOutIfDue(&job, &change, now: now) }
    }

    private func reconciled(
        _ outcome: ReconcileOutcome,
        _ job: inout JobSnapshot,
        _ change: inout Change,
        now: Date,
        rng: inout some RandomNumberGenerator
    ) {
        let afterSubmission = job.state == .submitting
        switch outcome {
        case .done(let detail, let result):
            job.state = .succeeded
            job.lastError = nil
            change.result = result
            change.message = "settled by reading Kinsta: \(detail)"
        case .notDone(let detail) where afterSubmission:
            // `confirmations` counts, while submitting, the reads that found no trace of the unclear submission.
            job.confirmations += 1
            let grace = policy.settleGrace(for: job.kind)
            if job.kind.spec.resubmitIsHarmless {
                job.confirmations = 0
                job.pendingAction = .submit
                job.nextActionAt = now
                job.lastError = "\(detail); sending again (a repeat cannot do harm for \(job.kind.rawValue))"
            } else if let deadline = job.deadline, now >= deadline {
                job.state = .needsAttention
                job.lastError =
                    "the daemon cannot tell whether Kinsta received the submission, and \(detail) by the "
                    + "deadline: either Kinsta never got it, or its operation failed. Check MyKinsta, then retry the "
                    + "job to submit it again"
                change.message = job.lastError
            } else if policy.hasWaited(grace, looks: job.confirmations) {
                // Kinsta shows what it took once its grace has passed (a create Kinsta received shows up in the
                // sites list once its operation ends): nothing there by now means nothing was done.
                job.confirmations = 0
                job.pendingAction = .submit
                job.nextActionAt = now
                job.lastError =
                    "\(detail) \(Int(grace)) s after a submission whose answer was unclear: Kinsta did "
                    + "nothing with it; sending it again"
            } else {
                // Keep looking on the error backoff (never re-post) until the grace has passed.
                let delay = policy.errorBackoff.delay(afterAttempt: job.confirmations - 1, using: &rng)
                job.pendingAction = .reconcile
                job.nextActionAt = clamp(now.addingTimeInterval(delay), job)
                job.lastError =
                    "the submission's fate is unknown (daemon restart or unclear answer) and \(detail) "
                    + "yet; looking again for up to \(Int(grace)) s before sending it again"
            }
        case .notDone(let detail):
            job.state = .failed
            job.lastError = "operation not found (404), and \(detail)"
            change.message = job.lastError
        case .undetermined(let reason):
            job.state = .needsAttention
            job.lastError = reason
            change.message = reason
        case .retryLater(let reason, let retryAfter):
            retryLater(
                &job,
                change: &change,
                reason: reason,
                retryAfter: retryAfter,
                now: now,
                rng: &rng,
                action: .reconcile
            )
            if let deadline = job.deadline, now >= deadline {
                job.state = .needsAttention
                job.lastError = "could not settle the job before its deadline: \(reason)"
                change.message = job.lastError
            }
        }
    }

    // MARK: - Helpers

    /// Counts one more bad answer; acts on it once it has been seen enough times in a row over a long enough span
    /// (``PollPolicy/isConfirmed(sightings:)``).
    private func confirm(
        _ job: inout JobSnapshot,
        change: inout Change,
        now: Date,
        rng: inout some RandomNumberGenerator,
        reason: String,
        believed: (inout JobSnapshot, inout Change) -> Void
    ) {
        job.confirmations += 1
        if policy.isConfirmed(sightings: job.confirmations) {
            believed(&job, &change)
            return
        }
        let span = Int(policy.confirmSpan.rounded())
        job.lastError =
            job.confirmations < policy.confirmations
            ? "\(reason); confirming (\(job.confirmations) of \(policy.confirmations)\(span > 0 ? ", over \(span) s" : ""))"
            : "\(reason); confirming (seen \(job.confirmations) times in a row; believed once that spans \(span) s)"
        let delay = policy.errorBackoff.delay(afterAttempt: job.confirmations - 1, using: &rng)
        job.nextActionAt = clamp(now.addingTimeInterval(delay), job)
    }

    /// Keeps the job where it is and schedules `action` again after `retryAfter` or the error backoff.
    private func retryLater(
        _ job: inout JobSnapshot,
        change: inout Change,
        reason: String,
        retryAfter: Double?,
        now: Date,
        rng: inout some RandomNumberGenerator,
        action: PendingAction
    ) {
        let delay =
            retryAfter.map { max(0, $0) } ?? policy.errorBackoff.delay(afterAttempt: job.errorStreak, using: &rng)
        job.errorStreak += 1
        job.pendingAction = action
        job.lastError = reason
        job.nextActionAt = clamp(now.addingTimeInterval(delay), job)
        if job.state == .submitting, action == .submit, let deadline = job.deadline, now >= deadline {
            job.state = .timedOut
            job.lastError = "could not submit before the deadline; nothing reached Kinsta as far as known: \(reason)"
            change.message = job.lastError
        }
    }

    private func timeOutIfDue(_ job: inout JobSnapshot, _ change: inout Change, now: Date) {
        guard let deadline = job.deadline, now >= deadline, job.pendingAction == .poll else { return }
        job.state = .timedOut
        let minutes = Int((deadline.timeIntervalSince(job.acceptedAt ?? deadline) / 60).rounded())
        job.lastError =
            "no final answer from Kinsta by the deadline (\(minutes) min after acceptance); "
            + "the operation may still finish: check MyKinsta, or retry to watch it again"
        change.message = job.lastError
    }

    /// Nothing is scheduled past the deadline: the last action happens at it.
    private func clamp(_ date: Date, _ job: JobSnapshot) -> Date {
        guard let deadline = job.deadline else { return date }
        return min(date, deadline)
    }

    private func refused(_ job: JobSnapshot, _ what: String) -> TransitionRefused {
        TransitionRefused("a \(job.state.rawValue) job cannot be \(what)")
    }
}
