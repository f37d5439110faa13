public import Foundation
import HTTPTypes
public import Hummingbird
import Synchronization

/// A simulator of the Kinsta API v2 (under `/v2`), for demos, tests and benchmarks.
///
/// Operations answer 404 during a random start-up window, 202 while they run, then 200 or 500; their effects (a new
/// site, a deleted one) show in the read endpoints once they finish. Time comes from the injected `now`, so tests
/// can drive it by hand. `/_sim/…` (no auth) exposes the request log, the operations and the state.
public final class KinstaSimulator: Sendable {
    public let configuration: SimulatorConfiguration
    let now: @Sendable () -> Date
    let state: Mutex<SimulatorState>
    /// Webhook deliveries received on `/_sim/webhooks/NAME`.
    let webhooks = Mutex<[(name: String, headers: [String: String], body: Data)]>([])

    public init(configuration: SimulatorConfiguration = .init(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.now = now
        self.state = Mutex(SimulatorState(configuration: configuration, now: now()))
    }

    /// Every route: `/v2/**` (Kinsta) and `/_sim/**` (admin).
    public func buildRouter() -> Router<BasicRequestContext> {
        let router = Router()
        for method in [HTTPRequest.Method.get, .post, .delete, .put] {
            router.on("v2/**", method: method) { request, _ in try await self.handleKinsta(request) }
            router.on("_sim/**", method: method) { request, _ in try await self.handleAdmin(request) }
        }
        return router
    }

    /// Every request received on `/v2`, in order.
    public func requestLog() -> [SimulatedRequest] { state.withLock { $0.log } }

    /// Every operation started, in order.
    public func operations() -> [SimulatedOperation] {
        let now = now()
        return state.withLock { state in
            state.operationOrder.compactMap { state.operations[$0] }.map {
                SimulatedOperation(
                    operationID: $0.id,
                    kind: $0.kind.rawValue,
                    state: $0.state(at: now),
                    target: $0.target,
                    displayName: $0.displayName,
                    createdAt: $0.createdAt,
                    visibleAt: $0.visibleAt,
                    doneAt: $0.doneAt
                )
            }
        }
    }

    // MARK: - Kinsta

    private func handleKinsta(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        let bodyData = Data(body.readableBytesView)
        let rawPath = request.uri.path
        let query = request.uri.queryParameters
        let method = "\(request.method)"
        let authorized = request.headers[.authorization] == "Bearer \(configuration.apiKey)"
        let chaos = configuration.chaos
        let stall = chaos.stallRate > 0 && state.withLock { $0.chaosRandom.unit() } < chaos.stallRate
        if stall { try await Task.sleep(for: .milliseconds(Int64(chaos.stallSeconds * 1000))) }
        if chaos.submitDelay > 0, method == "POST" || method == "DELETE" {
            try await Task.sleep(for: .milliseconds(Int64(chaos.submitDelay * 1000)))
        }
        let now = now()
        return state.withLock { state in
            state.settle(now: now)
            var answer: SimAnswer
            if let refusal = chaosRefusal(method: method, path: rawPath, now: now, state: &state) {
                answer = refusal
            } else if authorized {
                let segments = rawPath.split(separator: "/").dropFirst().map {
                    String($0).removingPercentEncoding ?? String($0)
                }
                answer = route(
                    method,
                    segments,
                    query: { query[Substring($0)].map(String.init) },
                    body: bodyData,
                    now: now,
                    state: &state
                )
                if let operationID = answer.operationID, answer.status == 202 {
                    if chaos.echoSecrets {
                        state.echoes[operationID] = Self.echo(request.headers[.authorization], bodyData)
                    }
                    if chaos.beganErrorRate > 0, state.chaosRandom.unit() < chaos.beganErrorRate {
                        answer = Self.beganError(operationID, draw: state.chaosRandom.unit())
                    }
                }
            } else {
                answer = .error(401, "No or invalid API key provided to the request")
            }
            if chaos.garbageRate > 0, answer.status < 300, state.chaosRandom.unit() < chaos.garbageRate {
                answer = SimAnswer(status: 200, json: NSNull(), raw: "<html>upstream hiccup</html>", operationID: nil)
            }
            if chaos.echoSecrets {
                let operation = segments(rawPath).first == "operations" ? segments(rawPath).dropFirst().first : nil
                let echo =
                    operation.flatMap { state.echoes[$0] } ?? Self.echo(request.headers[.authorization], bodyData)
                answer = Self.echoing(answer, echo)
            }
            state.log.append(
                SimulatedRequest(
                    seq: state.log.count + 1,
                    at: now,
                    method: method,
                    path: rawPath + (request.uri.query.map { "?" + $0 } ?? ""),
                    status: answer.status,
                    operationID: answer.operationID,
                    body: Self.redactedBody(bodyData)
                )
            )
            return answer.response
        }
    }

    private func segments(_ rawPath: String) -> [String] {
        rawPath.split(separator: "/").dropFirst().map { String($0).removingPercentEncoding ?? String($0) }
    }

    /// The request as an echoing server repeats it.
    static func echo(_ authorization: String?, _ body: Data) -> String {
        "Authorization: \(authorization ?? "-"); body: \(String(decoding: body, as: UTF8.self))"
    }

    /// `answer` with the echo in its message and in an `echo` member (JSON object answers only).
    static func echoing(_ answer: SimAnswer, _ echo: String) -> SimAnswer {
        guard answer.raw == nil, var object = answer.json as? [String: Any] else { return answer }
        var echoed = answer
        object["message"] = "\(object["message"] as? String ?? "") (you sent \(echo))"
        object["echo"] = ["request": echo]
        echoed.json = object
        return echoed
    }

    /// What a Kinsta that began the work answers instead of its 202: its own 500 for a create, or a proxy's page.
    static func beganError(_ operationID: String, draw: Double) -> SimAnswer {
        var answer: SimAnswer
        if draw < 0.5 {
            answer = .json(500, ["message": "Error occurred while creating a site", "status": 500, "data": NSNull()])
        } else {
            let status = draw < 0.75 ? 502 : 504
            answer = SimAnswer(status: status, json: NSNull(), raw: "<html><body>\(status) Gateway</body></html>")
        }
        // The log keeps the operation the request started, so a checker can count it as taken.
        answer.operationID = operationID
        return answer
    }

    private func route(
        _ method: String,
        _ path: [String],
        query: (String) -> String?,
        body: Data,
        now: Date,
        state: inout SimulatorState
    ) -> SimAnswer {
        let m = { (verb: String, pattern: String) -> [String]? in method == verb ? Self.match(path, pattern) : nil }
        if m("POST", "sites") != nil {
            return startSite(
                .siteCreate,
                body: body,
                required: [
                    "company", "display_name", "region", "admin_email", "admin_password", "admin_user", "site_title",
                    "wp_language",
                ],
                now: now,
                state: &state
            )
        }
        if m("POST", "sites/plain") != nil {
            return startSite(
                .sitePlain,
                body: body,
                required: ["company", "display_name", "region"],
                now: now,
                state: &state
            )
        }
        if m("POST", "sites/clone") != nil {
            return startSite(
                .siteClone,
                body: body,
                required: ["company", "display_name", "source_env_id"],
                now: now,
                state: &state
            )
        }
        if let siteID = m("DELETE", "sites/*")?.first {
            guard state.sites.contains(where: { $0.id == siteID }) else { return .error(404, "Site not found") }
            return start(.siteDelete, target: siteID, displayName: nil, now: now, state: &state)
        }
        if let envID = m("POST", "sites/environments/*/backups/restore")?.first {
            guard let object = Self.object(body), let backupID = object["backup_id"] as? Int,
                object["notified_user_id"] is String || object["env_display_name_of_backup"] is String
            else { return .error(400, "Bad request format") }
            guard let environment = state.environment(envID),
                environment.backups.contains(where: { $0.id == backupID })
            else { return .error(404, Self.notFound) }
            return start(.backupRestore, target: envID, displayName: nil, now: now, state: &state)
        }
        if let operationID = m("GET", "operations/*")?.first {
            guard let operation = state.operations[operationID] else { return .error(404, Self.notFound) }
            switch operation.state(at: now) {
            case "invisible":
                return .json(404, ["message": Self.notFound, "status": 404])
            case "running":
                let chaos = configuration.chaos
                let draw = state.chaosRandom.unit()
                if draw < chaos.transient500Rate {
                    return .json(500, ["message": "Error occurred while processing your request", "status": 500])
                }
                if draw < chaos.transient500Rate + chaos.late404Rate {
                    return .json(404, ["message": Self.notFound, "status": 404])
                }
                return .json(202, ["status": 202, "message": "Operation in progress", "data": NSNull()])
            case "failed":
                return .json(
                    500,
                    [
                        "message": "Error occurred while processing your request", "status": 500,
                        "data": [
                            "message": "The environment is blocked by another process. Please try again a bit later."
                        ],
                    ]
                )
            default:
                let data: Any = operation.newSiteID.map { ["idSite": $0] } ?? NSNull()
                return .json(200, ["message": "Successfully finished request", "status": 200, "data": data])
            }
        }
        if m("GET", "sites") != nil {
            guard let company = query("company") else { return .error(400, "Bad request format") }
            guard company == configuration.companyID else { return .error(404, Self.notFound) }
            let withEnvironments = query("include_environments") == "true"
            return .json(
                200,
                [
                    "company": ["sites": state.sites.map { Self.siteJSON($0, environments: withEnvironments) }]
                ]
            )
        }
        if let envID = m("GET", "sites/environments/*/backups")?.first {
            guard let environment = state.environment(envID) else { return .error(404, Self.notFound) }
            let backups = environment.backups.map {
                ["id": $0.id, "name": $0.name, "note": $0.note, "type": $0.type, "created_at": Self.ms($0.createdAt)]
                    as [String: Any]
            }
            return .json(200, ["environment": ["display_name": environment.displayName, "backups": backups]])
        }
        if let envID = m("GET", "sites/environments/*/downloadable-backups")?.first {
            guard let environment = state.environment(envID) else { return .error(404, Self.notFound) }
            let created = now.addingTimeInterval(-3600)
            let backup: [String: Any] = [
                "id": "dl-\(envID.prefix(8))", "created_at": Self.ms(created),
                "download_link": "https://downloads.example.invalid/\(envID).zip",
                "expires_at": Self.ms(created.addingTimeInterval(86_400)), "is_generation_in_progress": false,
            ]
            return .json(
                200,
                [
                    "environment": ["display_name": environment.displayName, "downloadable_backups": [backup]]
                ]
            )
        }
        if let siteID = m("GET", "sites/*")?.first {
            guard let site = state.sites.first(where: { $0.id == siteID }) else { return .error(404, "Site not found") }
            var json = Self.siteJSON(site, environments: true)
            json["company_id"] = configuration.companyID
            return .json(200, ["site": json])
        }
        if let siteID = m("GET", "sites/*/environments")?.first {
            guard let site = state.sites.first(where: { $0.id == siteID }) else { return .error(404, "Site not found") }
            return .json(200, ["site": ["environments": site.environments.map(Self.environmentJSON)]])
        }
        return .error(404, Self.notFound)
    }

    private func startSite(
        _ kind: SimOperation.Kind,
        body: Data,
        required: [String],
        now: Date,
        state: inout SimulatorState
    ) -> SimAnswer {
        guard let object = Self.object(body) else { return .error(400, "Bad request format") }
        for field in required {
            guard let value = object[field] as? String, !value.isEmpty else {
                return .json(400, ["message": "Bad request format", "status": 400, "data": ["field": field]])
            }
        }
        guard object["company"] as? String == configuration.companyID else { return .error(404, Self.notFound) }
        let name = object["display_name"] as? String ?? ""
        let taken =
            state.sites.contains { $0.displayName == name }
            || state.operations.values.contains { $0.displayName == name && !$0.applied && $0.kind != .siteDelete }
        guard !taken else { return .error(400, "display name is already used") }
        if kind == .siteClone {
            guard let source = object["source_env_id"] as? String, state.environment(source) != nil else {
                return .error(404, Self.notFound)
            }
        }
        return start(kind, target: object["source_env_id"] as? String, displayName: name, now: now, state: &state)
    }

    private func start(
        _ kind: SimOperation.Kind,
        target: String?,
        displayName: String?,
        now: Date,
        state: inout SimulatorState
    ) -> SimAnswer {
        if configuration.chaos.refuseBlocked, let target,
            state.operations.values.contains(where: { $0.target == target && $0.doneAt > now })
                || (configuration.chaos.blockedRate > 0 && state.chaosRandom.unit() < configuration.chaos.blockedRate)
        {
            return .error(400, "The environment is blocked by another process. Please try again a bit later.")
        }
        let id = kind.prefix + state.random.uuid()
        let window: Double
        let unscaled: Double
        switch configuration.durations {
        case .uniform:
            window = state.random.uniform(0, max(0, configuration.startupWindowMax))
            unscaled = state.random.uniform(kind.duration.lowerBound, kind.duration.upperBound)
        case .kinstaLike(let tailRate):
            var draw = SimRandom(
                seed: configuration.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(state.operationOrder.count)
            )
            window = draw.uniform(0, max(0, configuration.startupWindowMax))
            unscaled = Self.kinstaLikeDuration(kind.duration, tailRate: tailRate, using: &draw)
        }
        let duration = unscaled * max(0, configuration.durationScale)
        let fails = state.random.unit() < configuration.failureRate
        let visible = now.addingTimeInterval(window)
        state.operations[id] = SimOperation(
            id: id,
            kind: kind,
            createdAt: now,
            visibleAt: visible,
            doneAt: visible.addingTimeInterval(duration),
            fails: fails,
            target: target,
            displayName: displayName
        )
        state.operationOrder.append(id)
        var answer = SimAnswer.json(
            202,
            [
                "operation_id": id,
                "message": "\(kind.rawValue) in progress. Use the operation_id to check the status.",
                "status": 202,
            ]
        )
        answer.operationID = id
        return answer
    }

    /// A draw of ``SimulatedDurations/kinstaLike(tailRate:)``.
    static func kinstaLikeDuration(
        _ range: ClosedRange<Double>,
        tailRate: Double,
        using draw: inout SimRandom
    )
        -> Double
    {
        if draw.unit() < tailRate { return range.upperBound * draw.uniform(1, 2.5) }
        let median = (range.lowerBound * range.upperBound).squareRoot()
        let sigma = log(range.upperBound / range.lowerBound) / 4.65
        // Box–Muller: one standard normal from two uniforms.
        let u1 = max(draw.unit(), 1e-12)
        let u2 = draw.unit()
        let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return min(max(median * exp(sigma * normal), range.lowerBound * 0.8), range.upperBound * 1.3)
    }

    /// Every seed site with its live environment and that environment's backups, for benchmarks that need real
    /// targets (a delete per site, a restore per environment).
    public func inventory() -> [(siteID: String, environmentID: String, backupIDs: [Int])] {
        state.withLock { state in
            state.sites.compactMap { site in
                site.environments.first.map { (site.id, $0.id, $0.backups.map(\.id)) }
            }
        }
    }

    /// Answers that come before any routing: the per-minute limit and random server errors.
    private func chaosRefusal(method: String, path: String, now: Date, state: inout SimulatorState) -> SimAnswer? {
        let chaos = configuration.chaos
        if chaos.rateLimitPerMinute > 0 {
            state.recentRequests.removeAll { now.timeIntervalSince($0) >= 60 }
            if state.recentRequests.count >= chaos.rateLimitPerMinute {
                var answer = SimAnswer.json(
                    429,
                    ["status": 429, "message": "Too many requests, please try again later."]
                )
                answer.headers = chaos.retryAfter.map { ["Retry-After": String($0)] } ?? [:]
                return answer
            }
            state.recentRequests.append(now)
        }
        if chaos.serverErrorRate > 0, state.chaosRandom.unit() < chaos.serverErrorRate {
            let status = state.chaosRandom.unit() < 0.5 ? 502 : 503
            return SimAnswer(
                status: status,
                json: NSNull(),
                raw: "<html><body>\(status) Bad Gateway</body></html>",
                operationID: nil
            )
        }
        return nil
    }

    // MARK: - Admin

    private func handleAdmin(_ request: Request) async throws -> Response {
        let path = request.uri.path
        let now = now()
        // A webhook receiver for demos and tests: POST /_sim/webhooks/NAME records the delivery.
        if request.method == .post, path.hasPrefix("/_sim/webhooks/") {
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let name = String(path.dropFirst("/_sim/webhooks/".count))
            webhooks.withLock { $0.append((name, headers, Data(body.readableBytesView))) }
            return SimAnswer.json(200, ["received": true]).response
        }
        switch path {
        case "/_sim/webhooks":
            let list = webhooks.withLock { $0 }.map { entry -> [String: Any] in
                ["endpoint": entry.name, "headers": entry.headers, "body": String(decoding: entry.body, as: UTF8.self)]
            }
            return SimAnswer.json(200, list).response
        case "/_sim/requests":
            let log = requestLog().map { entry -> [String: Any] in
                var json: [String: Any] = [
                    "seq": entry.seq, "at": Self.iso(entry.at), "method": entry.method, "path": entry.path,
                    "status": entry.status,
                ]
                if let id = entry.operationID { json["operation_id"] = id }
                if let body = entry.body, let parsed = try? JSONSerialization.jsonObject(with: Data(body.utf8)) {
                    json["body"] = parsed
                }
                return json
            }
            return SimAnswer.json(200, log).response
        case "/_sim/operations":
            return SimAnswer.json(
                200,
                operations().map {
                    [
                        "operation_id": $0.operationID, "kind": $0.kind, "state": $0.state,
                        "target": $0.target ?? NSNull(), "display_name": $0.displayName ?? NSNull(),
                        "visible_at": Self.iso($0.visibleAt), "done_at": Self.iso($0.doneAt),
                    ] as [String: Any]
                }
            ).response
        case "/_sim/state":
            let sites = state.withLock { state -> [[String: Any]] in
                state.settle(now: now)
                return state.sites.map { site in
                    var json = Self.siteJSON(site, environments: false)
                    json["environments"] = site.environments.map { environment in
                        var env = Self.environmentJSON(environment)
                        env["backups"] = environment.backups.map { ["id": $0.id, "name": $0.name, "type": $0.type] }
                        return env
                    }
                    return json
                }
            }
            return SimAnswer.json(
                200,
                [
                    "company_id": configuration.companyID, "api_key_hint": String(configuration.apiKey.prefix(3)) + "…",
                    "sites": sites,
                ]
            ).response
        default:
            return SimAnswer.error(404, "no such simulator route").response
        }
    }

    /// Matches path segments against `a/*/b`, returning what each `*` stood for.
    static func match(_ segments: [String], _ pattern: String) -> [String]? {
        let parts = pattern.split(separator: "/").map(String.init)
        guard parts.count == segments.count else { return nil }
        var captured: [String] = []
        for (part, segment) in zip(parts, segments) {
            if part == "*" { captured.append(segment) } else if part != segment { return nil }
        }
        return captured
    }

    // MARK: - JSON

    static let notFound = "Could not find data or the user does not have permissions to retrieve it"

    static func object(_ body: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }

    static func redactedBody(_ body: Data) -> String? {
        guard !body.isEmpty else { return nil }
        guard var object = object(body) else { return "(not a JSON object)" }
        if object["admin_password"] != nil { object["admin_password"] = "[redacted]" }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) }
    }

    static func siteJSON(_ site: SimSite, environments: Bool) -> [String: Any] {
        var json: [String: Any] = [
            "id": site.id, "name": site.name, "display_name": site.displayName, "status": "live", "siteLabels": [],
        ]
        if environments { json["environments"] = site.environments.map(environmentJSON) }
        return json
    }

    static func environmentJSON(_ environment: SimEnvironment) -> [String: Any] {
        [
            "id": environment.id, "name": environment.name, "display_name": environment.displayName,
            "is_premium": false, "is_blocked": false, "domains": [], "primaryDomain": [:],
        ]
    }

    static func ms(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970 * 1000) }

    static func iso(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
    }
}

/// An answer before it becomes a Response (so it can be logged with its status).
struct SimAnswer {
    var status: Int
    var json: Any
    /// A body that is not JSON (chaos), sent instead of `json`.
    var raw: String?
    var operationID: String?
    var headers: [String: String] = [:]

    init(status: Int, json: Any, raw: String? = nil, operationID: String? = nil) {
        self.status = status
        self.json = json
        self.raw = raw
        self.operationID = operationID
    }

    static func json(_ status: Int, _ json: Any) -> SimAnswer { SimAnswer(status: status, json: json) }

    static func error(_ status: Int, _ message: String) -> SimAnswer {
        SimAnswer(status: status, json: ["message": message, "status": status, "data": NSNull()])
    }

    var response: Response {
        let data =
            raw.map { Data($0.utf8) }
            ?? (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data("{}".utf8)
        var fields: HTTPFields = [.contentType: raw == nil ? "application/json" : "text/html"]
        for (name, value) in headers { if let field = HTTPField.Name(name) { fields[field] = value } }
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: fields,
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
