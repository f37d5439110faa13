public import Foundation
import HTTPTypes
public import Hummingbird
public import KinstaClient
public import Logging
import NIOCore
public import OpsCore
public import OpsProtocol
public import OpsStore
import ServiceLifecycle

/// The socket API: routes of `/v1/…` over the daemon's database. Every accepted write is committed before the answer.
public struct SocketAPI: Sendable {
    /// Request bodies above this answer 413.
    public static let maxBodyBytes = 64 * 1024
    /// The fields of a submission's body.
    static let submitFields: Set<String> = ["kind", "params", "note", "after", "hold", "priority"]

    public let database: OpsDatabase
    public let machine: JobMachine
    /// The configured company, filled into `company` when a job omits it.
    public var defaultCompany: String? { paramDefaults.company }
    /// What the configuration fills into or decides for job parameters.
    public let paramDefaults: ParamDefaults
    public let version: String
    public let startedAt: Date
    public let now: @Sendable () -> Date
    /// Extra facts for `/v1/health` (the engine's view of Kinsta).
    public let healthExtras: @Sendable () async -> [String: JSONValue]
    /// Kinsta, for the read-through routes (`nil`: they answer 503).
    public let kinsta: (any KinstaAPI)?
    /// The Prometheus text for `GET /metrics` (`nil`: 404).
    public let metricsText: (@Sendable () async -> String)?
    /// Who may use the socket beyond its file mode.
    public let access: PeerAccess
    /// The names of the webhook endpoints configured now (they change on SIGHUP).
    public let webhookNames: @Sendable () -> [String]
    /// The regions a company can create sites in, as far as the daemon has read them; `nil` when it has no list for
    /// that company (it must answer soon: submissions wait for it).
    public let knownRegions: @Sendable (_ company: String) async -> [String]?
    /// How long a kind's operations usually take as the engine has learned it (`nil`: not known, e.g. no engine).
    public let usualDuration: @Sendable (JobKind) -> UsualDuration?
    /// `[approval] kinds`: their jobs are stored held.
    public let heldKinds: Set<JobKind>
    /// `[approval] distinct_approver`: a job's submitter cannot approve it.
    public let distinctApprover: Bool
    /// The configured schedules with their last and next runs.
    public let schedules: @Sendable () async throws -> [ScheduleView]
    public let logger: Logger

    public init(
        database: OpsDatabase,
        machine: JobMachine,
        defaultCompany: String?,
        version: String,
        startedAt: Date,
        now: @escaping @Sendable () -> Date,
        healthExtras: @escaping @Sendable () async -> [String: JSONValue] = { [:] },
        kinsta: (any KinstaAPI)? = nil,
        metricsText: (@Sendable () async -> String)? = nil,
        access: PeerAccess = PeerAccess(uids: [], gids: []),
        webhookNames: @escaping @Sendable () -> [String] = { [] },
        paramDefaults: ParamDefaults? = nil,
        knownRegions: @escaping @Sendable (_ company: String) async -> [String]? = { _ in nil },
        usualDuration: @escaping @Sendable (JobKind) -> UsualDuration? = { _ in nil },
        heldKinds: Set<JobKind> = [],
        distinctApprover: Bool = false,
        schedules: @escaping @Sendable () async throws -> [ScheduleView] = { [] },
        logger: Logger
    ) {
        self.schedules = schedules
        self.heldKinds = heldKinds
        self.distinctApprover = distinctApprover
        self.knownRegions = knownRegions
        self.usualDuration = usualDuration
        self.paramDefaults = paramDefaults ?? ParamDefaults(company: defaultCompany)
        self.webhookNames = webhookNames
        self.metricsText = metricsText
        self.access = access
        self.kinsta = kinsta
        self.database = database
        self.machine = machine
        self.version = version
        self.startedAt = startedAt
        self.now = now
        self.healthExtras = healthExtras
        self.logger = logger
    }

    /// The router with every route and the JSON error middleware.
    public func buildRouter() -> Router<PeerContext> {
        let router = Router(context: PeerContext.self)
        router.middlewares.add(MetricsMiddleware<PeerContext>())
        router.middlewares.add(ErrorMiddleware<PeerContext>(storage: database.storage, now: now))
        router.middlewares.add(AccessMiddleware(access: access))
        let v1 = router.group(RouterPath(socketAPIVersion))
        v1.post("jobs", use: submit)
        v1.get("jobs", use: listJobs)
        v1.get("jobs/:id", use: showJob)
        v1.post("jobs/:id/cancel") { request, context in try await act(.cancel, request, context) }
        v1.post("jobs/:id/retry") { request, context in try await act(.retry, request, context) }
        v1.post("jobs/:id/approve", use: approve)
        v1.get("kinds") { _, _ in
            Response.json(
                KindCatalogView(
                    kinds: JobCatalog.specs.map { spec in
                        var view = KindView(spec)
                        if let kind = JobKind(rawValue: spec.name), let usual = usualDuration(kind) {
                            view.usualSeconds = [usual.low.rounded(), usual.high.rounded()]
                            view.observations = usual.observations
                        }
                        return view
                    }
                )
            )
        }
        v1.get("events", use: events)
        v1.get("schedules") { _, _ in Response.json(ScheduleListView(schedules: try await schedules())) }
        v1.get("health", use: health)
        v1.get("openapi.json") { _, _ in openAPIResponse() }
        addKinstaRoutes(to: v1)
        addDeliveryRoutes(to: v1)
        addPlanRoutes(to: v1)
        if let metricsText {
            router.get("metrics") { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: await metricsText()))
                )
            }
        }
        // Added last, so it wraps only the answer to a request no route takes: a known path with another method is 405.
        router.middlewares.add(
            MethodNotAllowedMiddleware(routes: router.routes.map { (method: $0.method, path: $0.path.description) })
        )
        return router
    }

    /// The OpenAPI document of this daemon (its version, its configured defaults, whether it serves `/metrics`).
    func openAPIResponse() -> Response {
        var body = ByteBuffer(
            bytes: OpenAPIDocument.data(version: version, defaults: paramDefaults, metrics: metricsText != nil)
        )
        body.writeString("\n")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    // MARK: - Jobs

    @Sendable func submit(_ request: Request, context: PeerContext) async throws -> Response {
        let json = try await Self.jsonBody(request, what: "the job", upTo: Self.maxBodyBytes)
        let submission = try Self.submission(from: json)
        guard let kind = JobKind(rawValue: submission.kind) else {
            throw APIError(
                .unprocessableContent,
                code: .unknownKind,
                "unknown kind \(submission.kind)"
                    + Suggestion.hint(for: submission.kind, among: JobKind.allCases.map(\.rawValue))
                    + "; `kinsta-ops kinds` (GET /v1/kinds) lists the \(JobKind.allCases.count)",
                field: "kind"
            )
        }
        if let note = submission.note, note.unicodeScalars.count > 1000 {
            throw APIError(
                .unprocessableContent,
                code: .invalidParams,
                "note is longer than 1000 characters",
                field: "note"
            )
        }
        let params: ValidatedParams
        do {
            params = try ValidatedParams(
                kind: kind,
                raw: submission.params,
                defaults: paramDefaults,
                allowingReferences: true
            )
        } catch {
            throw APIError(.unprocessableContent, code: .invalidParams, error.message, field: error.field)
        }
        try await checkRegion(params)
        let key = try Self.idempotencyKey(request)
        let peer = await context.peer()
        let result: OpsDatabase.InsertResult
        do {
            result = try await database.insert(
                NewJob(
                    params: params,
                    note: submission.note,
                    submitter: peer,
                    idempotencyKey: key,
                    after: submission.after ?? [],
                    hold: submission.hold == true || heldKinds.contains(kind),
                    priority: submission.priority ?? 0
                ),
                now: now()
            )
        } catch let error as StoreError where error.code == .idempotencyConflict {
            throw APIError(.conflict, code: .idempotencyConflict, error.message, field: "Idempotency-Key")
        } catch let error as StoreError where error.code == .unknownDependency {
            throw APIError(.unprocessableContent, code: .invalidParams, error.message, field: error.field ?? "after")
        }
        database.storage.recordSuccess()
        switch result {
        case .created(let job):
            logger.info(
                "job submitted",
                metadata: [
                    "job.id": "\(job.id)", "job.kind": "\(job.kind.rawValue)",
                    "peer.uid": "\(peer?.uid.description ?? "-")",
                    "peer.pid": "\(peer?.pid.description ?? "-")",
                ]
            )
            return Response.json(written: JobView(job), status: .created)
        case .existing(let job):
            return Response.json(written: JobView(job), status: .ok)
        }
    }

    @Sendable func listJobs(_ request: Request, context: PeerContext) async throws -> Response {
        let query = request.uri.queryParameters
        // One state, or several separated by commas (`state=failed,needs_attention`).
        let states = try query["state"].map { text in
            try text.split(separator: ",", omittingEmptySubsequences: false).map { name in
                guard let state = JobState(rawValue: String(name)) else {
                    throw APIError.badRequest(
                        "unknown state \(name)"
                            + Suggestion.hint(for: String(name), among: JobState.allCases.map(\.rawValue))
                            + "; states are \(JobState.allCases.map(\.rawValue).joined(separator: ", "))",
                        field: "state"
                    )
                }
                return state
            }
        }
        let kind = try query["kind"].map { text in
            guard let kind = JobKind(rawValue: String(text)) else {
                throw APIError.badRequest(
                    "unknown kind \(text)"
                        + Suggestion.hint(for: String(text), among: JobKind.allCases.map(\.rawValue)),
                    field: "kind"
                )
            }
            return kind
        }
        let limit = try Self.integer(query, "limit", in: 1...1000) ?? 50
        let before = try Self.integer(query, "before", in: 1...Int64.max)
        let jobs = try await database.jobs(
            states: states.map(Set.init),
            kind: kind,
            before: before,
            createdSince: try Self.time(query, "since"),
            createdUntil: try Self.time(query, "until"),
            limit: Int(limit)
        )
        let nextBefore = jobs.count == Int(limit) ? jobs.last?.id : nil
        return Response.json(written: JobListView(jobs: jobs.map { JobView($0) }, nextBefore: nextBefore))
    }

    @Sendable func showJob(_ request: Request, context: PeerContext) async throws -> Response {
        let id = try Self.jobID(context)
        guard let job = try await database.job(id: id) else { throw APIError.notFound("no job \(id)") }
        let events = try await database.events(after: 0, jobID: id, limit: 10_000)
        var view = JobView(job, events: events)
        let after = try await database.dependencies(of: id)
        if !after.isEmpty { view.after = after }
        if job.state == .queued, let (ahead, key) = try await Self.jobAhead(of: job, database) {
            (view.waitingBehind, view.waitingOn) = (ahead, key)
        }
        return Response.json(written: view)
    }

    /// For a queued job: the job that must end before it can start, and the key they share. The engine starts no job
    /// while another in flight holds one of its keys (``Occupancy``), and among queued ones the oldest goes first;
    /// `nil` when nothing holds it back but a free slot or the request budget.
    static func jobAhead(of job: StoredJob, _ database: OpsDatabase) async throws -> (Int64, String)? {
        let keys = Set(Occupancy.keys(of: job.target))
        guard !keys.isEmpty else { return nil }
        let inFlight = JobState.allCases.filter(\.isInFlight)
        for candidates in [Set(inFlight), [.queued]] {
            let others = try await database.jobs(states: candidates, kind: nil, before: nil, limit: 1000)
            for other in others.reversed()
            where other.id != job.id && (candidates.contains(.queued) ? other.id < job.id : true) {
                if let key = Occupancy.keys(of: other.target).first(where: keys.contains) { return (other.id, key) }
            }
        }
        return nil
    }

    /// Cancel or retry: the machine decides whether the job's state allows it (409 with its reason otherwise).
    /// `POST /v1/jobs/{id}/approve`: a held job goes on (`waiting` when it comes after jobs, else `queued`); the
    /// approver's uid is in the event. With `distinct_approver`, its submitter cannot approve it (403).
    @Sendable func approve(_ request: Request, context: PeerContext) async throws -> Response {
        let id = try Self.jobID(context)
        guard let job = try await database.job(id: id) else { throw APIError.notFound("no job \(id)") }
        if distinctApprover, let submitter = job.submitter, let peer = await context.peer(), peer.uid == submitter.uid {
            throw APIError(
                .forbidden,
                code: .forbidden,
                "job \(id) was submitted by uid \(submitter.uid): another user must approve it (distinct_approver)"
            )
        }
        let waits = try await !database.dependencies(of: id).isEmpty
        return try await act(.approve(waitsForOthers: waits), request, context)
    }

    func act(_ input: JobInput, _ request: Request, _ context: PeerContext) async throws -> Response {
        let id = try Self.jobID(context)
        let peer = await context.peer()
        let machine = self.machine
        let now = now()
        do {
            guard
                let (job, transition, followers) = try await database.update(
                    jobID: id,
                    now: now,
                    { job in
                        var rng = SystemRandomNumberGenerator()
                        var change = try machine.step(job.snapshot, input, now: now, using: &rng)
                        let who = peer.map { " by uid \($0.uid), pid \($0.pid)" } ?? ""
                        change.message = change.message.map { $0 + who }
                        return change
                    }
                )
            else {
                throw APIError.notFound("no job \(id)")
            }
            logger.info(
                "job changed by admin",
                metadata: [
                    "job.id": "\(id)", "from": "\(transition.before.state.rawValue)", "to": "\(job.state.rawValue)",
                    "peer.uid": "\(peer?.uid.description ?? "-")",
                ]
            )
            logFollowers(followers)
            return Response.json(written: JobView(job))
        } catch let refused as TransitionRefused {
            throw APIError(.conflict, code: .conflict, refused.message)
        }
    }

    /// Refuses a job whose `region` is not among the company's available regions, before Kinsta does. Only a list
    /// that was read counts: with none (no company configured, Kinsta unreachable, not read yet) the job is taken and
    /// Kinsta decides, so submissions never depend on Kinsta being reachable.
    func checkRegion(_ params: ValidatedParams) async throws {
        guard let region = params.values["region"]?.stringValue,
            let company = params.values["company"]?.stringValue,
            let known = await knownRegions(company), !known.isEmpty, !known.contains(region)
        else { return }
        let examples = known.prefix(4).joined(separator: ", ") + (known.count > 4 ? ", …" : "")
        throw APIError(
            .unprocessableContent,
            code: .invalidParams,
            "region \(region) is not one of the company's available regions (\(examples)); `kinsta-ops regions` "
                + "lists them",
            field: "region"
        )
    }

    // MARK: - Health

    @Sendable func health(_ request: Request, context: PeerContext) async throws -> Response {
        let counts = try await database.stateCounts()
        let oldest = try await database.oldestQueuedSince()
        let current = now()
        var body: [String: JSONValue] = [
            "status": "ok",
            "version": .string(version),
            "uptime_seconds": .integer(Int64(current.timeIntervalSince(startedAt))),
            "queue_depth": .integer(Int64(counts[.queued] ?? 0)),
            "in_flight": .integer(Int64(JobState.allCases.filter(\.isInFlight).map { counts[$0] ?? 0 }.reduce(0, +))),
            "oldest_pending_seconds": oldest.map { .integer(Int64(current.timeIntervalSince($0))) } ?? .null,
            "jobs_by_state": .object(
                Dictionary(
                    uniqueKeysWithValues: JobState.allCases.map {
                        ($0.rawValue, JSONValue.integer(Int64(counts[$0] ?? 0)))
                    }
                )
            ),
        ]
        let disabled = try await database.disabledEndpoints()
        body["disabled_webhook_endpoints"] = .array(
            disabled.map {
                .object([
                    "name": .string($0.name), "since": .string(WireJSON.formatDate($0.since)),
                    "reason": .string($0.reason),
                ])
            }
        )
        for (key, value) in await healthExtras() { body[key] = value }
        if let outage = database.storage.outage {
            // Commits fail: nothing new is taken and nothing is sent to Kinsta until they go through again.
            body["status"] = "storage_unavailable"
            body["storage"] = .object([
                "available": .bool(false), "since": .string(WireJSON.formatDate(outage.since)),
                "reason": .string(outage.reason), "failed_commits": .integer(Int64(outage.failures)),
            ])
            return Response.json(JSONValue.object(body), status: .serviceUnavailable)
        }
        body["storage"] = .object(["available": .bool(true)])
        return Response.json(JSONValue.object(body))
    }

    // MARK: - Helpers

    /// The journal's line for each change that followed from an admin's (jobs skipped in cascade, a plan's end).
    func logFollowers(_ events: [StoredEvent]) {
        for event in events {
            logger.info("\(event.journalMessage)", metadata: event.journalFields.mapValues { .string($0) })
        }
    }

    /// The body of a JSON request, parsed strictly (Foundation's decoder takes some bodies that are not JSON, such as a
    /// trailing comma).
    static func jsonBody(_ request: Request, what: String, upTo limit: Int) async throws -> JSONValue {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw APIError(
                .unsupportedMediaType,
                code: .unsupportedMediaType,
                "send \(what) as JSON with Content-Type: application/json"
            )
        }
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        do {
            return try StrictJSON.parse(buffer.readableBytesView)
        } catch {
            throw APIError(.badRequest, code: .invalidJSON, "the body is not JSON: \(error)")
        }
    }

    /// The request's `Idempotency-Key`: visible ASCII and inner spaces only (bytes beyond it, obs-text and C1
    /// controls, reach the store as replacement characters, so two different keys could be taken for one).
    static func idempotencyKey(_ request: Request) throws -> String? {
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        if let key,
            key.isEmpty || key.unicodeScalars.count > 255
                || !key.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) })
        {
            throw APIError.badRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters (spaces inside)",
                field: "Idempotency-Key"
            )
        }
        return key
    }

    static func jobID(_ context: PeerContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError.badRequest("job IDs are positive whole numbers", field: "id")
        }
        return id
    }

    /// An ISO-8601 time (`2026-12-01T09:00:00Z`, with or without milliseconds, any offset) of the query.
    static func time(_ query: Parameters, _ name: String) throws -> Date? {
        guard let text = query[Substring(name)] else { return nil }
        guard let date = WireJSON.parseDate(String(text)) else {
            throw APIError.badRequest(
                "\(name) must be an ISO-8601 time such as 2026-12-01T09:00:00Z",
                field: name
            )
        }
        return date
    }

    static func integer(_ query: Parameters, _ name: String, in range: ClosedRange<Int64>) throws -> Int64? {
        guard let text = query[Substring(name)] else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw APIError.badRequest(
                "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)",
                field: name
            )
        }
        return value
    }

    /// The job a parsed body asks for: `kind` and `params` required, `note` optional, nothing else (a misspelt
    /// field such as "notes" would otherwise be dropped without a word).
    static func submission(from json: JSONValue) throws(APIError) -> SubmitJobRequest {
        guard case .object(let fields) = json else {
            throw APIError(
                .badRequest,
                code: .invalidJSON,
                "the body is not valid JSON of the form {\"kind\": …, \"params\": {…}, \"note\"?: …}"
            )
        }
        func wrongType(_ field: String) -> APIError {
            APIError(.badRequest, code: .invalidJSON, "\(field) has the wrong type", field: field)
        }
        guard let kindValue = fields["kind"] else {
            throw APIError(.badRequest, code: .invalidJSON, "the body needs kind")
        }
        guard case .string(let kind) = kindValue else { throw wrongType("kind") }
        guard let paramsValue = fields["params"] else {
            throw APIError(.badRequest, code: .invalidJSON, "the body needs params")
        }
        guard case .object(let params) = paramsValue else { throw wrongType("params") }
        var note: String?
        switch fields["note"] {
        case nil, .null?: note = nil
        case .string(let text)?: note = text
        default: throw wrongType("note")
        }
        var after: [Int64]?
        switch fields["after"] {
        case nil, .null?: after = nil
        case .array(let items)?:
            after = try items.map { item throws(APIError) in
                guard case .integer(let id) = item, id >= 1 else {
                    throw APIError(
                        .unprocessableContent,
                        code: .invalidParams,
                        "after holds job IDs (positive whole numbers)",
                        field: "after"
                    )
                }
                return id
            }
            if (after?.count ?? 0) > 100 {
                throw APIError(
                    .unprocessableContent,
                    code: .invalidParams,
                    "after names at most 100 jobs",
                    field: "after"
                )
            }
        default: throw wrongType("after")
        }
        var hold: Bool?
        switch fields["hold"] {
        case nil, .null?: hold = nil
        case .bool(let flag)?: hold = flag
        default: throw wrongType("hold")
        }
        var priority: Int?
        switch fields["priority"] {
        case nil, .null?: priority = nil
        case .integer(let value)?:
            guard JobPriority.range.contains(Int(clamping: value)) else {
                throw APIError(
                    .unprocessableContent,
                    code: .invalidParams,
                    "priority is a whole number from -10 to 10",
                    field: "priority"
                )
            }
            priority = Int(value)
        default: throw wrongType("priority")
        }
        if let unknown = fields.keys.sorted().first(where: { !Self.submitFields.contains($0) }) {
            throw APIError.badRequest(
                "unknown field \(unknown); a job is {\"kind\", \"params\", \"note\"?, \"after\"?, \"hold\"?, "
                    + "\"priority\"?}",
                field: unknown
            )
        }
        return SubmitJobRequest(kind: kind, params: params, note: note, after: after, hold: hold, priority: priority)
    }
}
