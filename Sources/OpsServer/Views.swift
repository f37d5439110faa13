import OpsCore
import OpsProtocol
import OpsStore

extension JobView {
    /// The socket API's view of a stored job: secrets redacted, times as dates.
    init(_ job: StoredJob, events: [StoredEvent]? = nil) {
        self.init(
            id: job.id,
            kind: job.kind.rawValue,
            state: job.state.rawValue,
            params: job.params.redacted,
            note: job.note,
            target: job.target,
            attempt: job.snapshot.attempt,
            operationID: job.snapshot.operationID,
            result: job.result,
            lastError: job.snapshot.lastError,
            pollCount: job.snapshot.pollCount,
            pendingAction: job.snapshot.pendingAction?.rawValue,
            nextActionAt: job.snapshot.nextActionAt,
            acceptedAt: job.snapshot.acceptedAt,
            deadline: job.snapshot.deadline,
            createdAt: job.createdAt,
            updatedAt: job.updatedAt,
            finishedAt: job.finishedAt,
            submittedBy: job.submitter.map { PeerView(uid: $0.uid, gid: $0.gid, pid: $0.pid) },
            events: events.map { $0.map(EventView.init) }
        )
    }
}

extension EventView {
    init(_ event: StoredEvent) {
        self.init(
            seq: event.seq,
            at: event.at,
            jobID: event.jobID,
            kind: event.kind.rawValue,
            from: event.from?.rawValue,
            to: event.to.rawValue,
            attempt: event.attempt,
            operationID: event.operationID,
            message: event.message
        )
    }
}
