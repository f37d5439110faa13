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
        let keys = Occupancy.keys(of: job.target)
        target = keys.joined(separator: " ")
        targets = keys
        if job.state == .succeeded { outputs = job.outputs }
        priority = job.priority
        planID = job.planID
        step = job.step
    }
}

extension KindView {
    /// A kind as `GET /v1/kinds` shows it.
    init(_ spec: JobKindSpec) {
        let inPath = spec.pathParameters
        self.init(
            name: spec.name,
            summary: spec.summary,
            method: spec.method,
            path: spec.pathTemplate,
            acceptedStatus: spec.acceptedStatus,
            params: spec.parameters.map { param in
                KindParamView(
                    name: param.name,
                    type: param.typeName,
                    required: param.required,
                    secret: param.secret,
                    default: param.defaultValue,
                    configured: param.configured.map { $0 == .company ? "company_id" : $0.rawValue },
                    location: inPath.contains(param.name) ? "path" : "body",
                    help: param.help
                )
            },
            outputs: spec.outputs.map { KindOutputView(name: $0.name, help: $0.help) },
            targets: spec.targets.map(\.summary),
            settle: spec.settle.summary,
            repeatIsHarmless: spec.resubmitIsHarmless,
            deadlineSeconds: spec.defaultDeadline,
            typicalSeconds: [spec.typicalDuration.lowerBound, spec.typicalDuration.upperBound]
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
        planID = event.planID
        schedule = event.schedule
    }
}

extension PlanView {
    /// The socket API's view of a stored plan.
    init(_ plan: StoredPlan) {
        let steps = Dictionary(uniqueKeysWithValues: plan.jobs.map { ($0.id, $0.step ?? "job \($0.id)") })
        self.init(
            id: plan.id,
            name: plan.name,
            state: plan.state,
            counts: Dictionary(uniqueKeysWithValues: plan.counts.map { ($0.key.rawValue, $0.value) }),
            steps: plan.jobs.map { job in
                Step(
                    step: job.step ?? "job \(job.id)",
                    jobID: job.id,
                    kind: job.kind.rawValue,
                    state: job.state.rawValue,
                    target: Occupancy.keys(of: job.target).joined(separator: " "),
                    after: (plan.dependencies[job.id] ?? []).map { steps[$0] ?? "job \($0)" },
                    outputs: job.state == .succeeded ? job.outputs : nil,
                    lastError: job.snapshot.lastError,
                    createdAt: job.createdAt,
                    updatedAt: job.updatedAt,
                    finishedAt: job.finishedAt
                )
            },
            schedule: plan.schedule,
            submittedBy: plan.submitter.map { PeerView(uid: $0.uid, gid: $0.gid, pid: $0.pid) },
            createdAt: plan.createdAt,
            cancelledAt: plan.cancelledAt,
            finishedAt: plan.finishedAt
        )
    }
}
