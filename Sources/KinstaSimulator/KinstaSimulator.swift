public import Foundation
import HTTPTypes
public import Hummingbird
import Synchronization

/// A simulator of the Kinsta API v2 (under `/v2`), for demos, tests and benchmarks.
///
/// Every endpoint is a route of its own, declared in ``SimRoute`` tables (the 37 writes that answer an
/// `operation_id` in `Writes.swift`, the reads in `Reads.swift`); one shared wrapper (``serve(_:context:route:)``)
/// gives each the same auth, chaos and request log. Operations answer 404 during a random start-up window, 202 while
/// they run, then 200 or 500; their effects show in the read endpoints once they finish. Time comes from the
/// injected `now`, so tests can drive it by hand. `/_sim/…` (no auth) exposes the request log, the operations and the
/// state.
public final class KinstaSimulator: Sendable {
    public let configuration: SimulatorConfiguration
    let now: @Sendable () -> Date
    let state: Mutex<SimulatorState>
    /// Webhook deliveries received on `/_sim/webhooks/NAME`.
    let webhooks = Mutex<[(name: String, headers: [String: String], body: Data)]>([])
    /// Requests waiting for more deliveries (`GET /_sim/webhooks?wait_for=N`), by id: how many they wait for.
    let webhookWaiters = Mutex<[UUID: (atLeast: Int, continuation: CheckedContinuation<Void, Never>)]>([:])

    public init(configuration: SimulatorConfiguration = .init(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.now = now
        self.state = Mutex(SimulatorState(configuration: configuration, now: now()))
    }

    /// Every route: one per Kinsta endpoint under `/v2`, a Kinsta 404 for any other `/v2` path, and `/_sim/**`
    /// (admin).
    public func buildRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: KinstaFallback(simulator: self))
        for route in Self.routes {
            router.on(RouterPath("v2" + route.routerPath), method: route.method) { request, context in
                try await self.serve(request, context: context, route: route)
            }
        }
        for method in [HTTPRequest.Method.get, .post, .delete, .put] {
            router.on("_sim/**", method: method) { request, _ in try await self.handleAdmin(request) }
        }
        return router
    }

    /// Every Kinsta route: the writes, then the reads.
    static let routes: [SimRoute] = writes.map(\.route) + reads

    /// The 37 write endpoints that answer an `operation_id`, as declared.
    public static var writeEndpoints: [(kind: String, method: String, path: String, prefix: String, status: Int)] {
        writes.map { ($0.kind, "\($0.method)", $0.path, $0.prefix, $0.status) }
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
                    kind: $0.kind,
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

    /// Every seed site with its live environment and that environment's backups, for benchmarks that need real
    /// targets (a delete per site, a restore per environment).
    public func inventory() -> [(siteID: String, environmentID: String, backupIDs: [Int])] {
        state.withLock { state in
            state.sites.compactMap { site in
                site.environments.first.map { (site.id, $0.id, $0.backups.map(\.id)) }
            }
        }
    }

    // MARK: - The shared wrapper: auth, chaos, log

    /// Answers one `/v2` request: `route` is nil for a path no route has (a Kinsta 404, still logged and still subject
    /// to auth and chaos).
    func serve(_ request: Request, context: BasicRequestContext, route: SimRoute?) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        let bodyData = Data(body.readableBytesView)
        let rawPath = request.uri.path
        var parameters: [String: String] = [:]
        if let route {
            for (name, routerName) in route.parameterNames {
                let raw = context.parameters.get(routerName) ?? ""
                parameters[name] = raw.removingPercentEncoding ?? raw
            }
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let method = "\(request.method)"
        let authorization = request.headers[.authorization]
        let authorized = authorization == "Bearer \(configuration.apiKey)"
        let chaos = configuration.chaos
        let stall = chaos.stallRate > 0 && state.withLock { $0.chaosRandom.unit() } < chaos.stallRate
        if stall { try await Task.sleep(for: .milliseconds(Int64(chaos.stallSeconds * 1000))) }
        if chaos.submitDelay > 0, method == "POST" || method == "DELETE" {
            try await Task.sleep(for: .milliseconds(Int64(chaos.submitDelay * 1000)))
        }
        let now = now()
        let call = SimCall(parameters: parameters, query: query, body: bodyData, now: now)
        let (answer, answerBody) = state.withLock { state -> (SimAnswer, Data) in
            state.settle(now: now)
            var answer: SimAnswer
            if let refusal = chaosRefusal(now: now, state: &state) {
                answer = refusal
            } else if !authorized || state.keyExpiresAt.map({ now >= $0 }) == true {
                answer = .error(401, "No or invalid API key provided to the request")
            } else if let route {
                answer = route.handle(self, call, &state)
                if let operationID = answer.operationID, answer.status < 300 {
                    if chaos.echoSecrets { state.echoes[operationID] = Self.echo(authorization, bodyData) }
                    if chaos.beganErrorRate > 0, state.chaosRandom.unit() < chaos.beganErrorRate {
                        answer = Self.beganError(operationID, draw: state.chaosRandom.unit())
                    }
                }
            } else {
                answer = .notFound
            }
            if chaos.garbageRate > 0, answer.status < 300, state.chaosRandom.unit() < chaos.garbageRate {
                // A page instead of the answer; the log keeps the operation the request started, if it started one,
                // so a checker can count it as taken (as for ``beganError(_:draw:)``).
                answer = SimAnswer(
                    status: 200,
                    json: NSNull(),
                    raw: "<html>upstream hiccup</html>",
                    operationID: answer.operationID
                )
            }
            if chaos.echoSecrets {
                let operation = route?.path == "/operations/{operation_id}" ? parameters["operation_id"] : nil
                let echo = operation.flatMap { state.echoes[$0] } ?? Self.echo(authorization, bodyData)
                answer = Self.echoing(answer, echo)
            }
            let answerBody = answer.body
            state.log.append(
                SimulatedRequest(
                    seq: state.log.count + 1,
                    at: now,
                    method: method,
                    path: rawPath + (request.uri.query.map { "?" + $0 } ?? ""),
                    status: answer.status,
                    operationID: answer.operationID,
                    body: Self.redactedBody(bodyData),
                    answer: String(decoding: answerBody, as: UTF8.self)
                )
            )
            return (answer, answerBody)
        }
        return answer.response(answerBody)
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

    /// Answers that come before any routing: the per-minute limit and random server errors.
    private func chaosRefusal(now: Date, state: inout SimulatorState) -> SimAnswer? {
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

    // MARK: - JSON

    /// The request body as the log keeps it: secrets replaced by a string (long enough for the schema's
    /// `minLength`, so a logged body still validates).
    static func redactedBody(_ body: Data) -> String? {
        guard !body.isEmpty else { return nil }
        guard var object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            return "(not a JSON object)"
        }
        for key in ["admin_password", "password", "custom_ssl_key"] where object[key] != nil {
            object[key] = redacted
        }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) }
    }

    static let redacted = "[redacted]-by-kinsta-sim"

    static func ms(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970 * 1000) }

    static func iso(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
    }
}

/// One call as a route's handler sees it: path parameters (percent-decoded), query and body.
struct SimCall: Sendable {
    var parameters: [String: String]
    var query: [String: String]
    var body: Data
    var now: Date

    subscript(_ name: String) -> String { parameters[name] ?? "" }
}

/// One Kinsta endpoint: its method, its path as the OpenAPI file writes it (without `/v2`), and its handler (run
/// under the state's lock).
struct SimRoute: Sendable {
    var method: HTTPRequest.Method
    var path: String
    var handle: @Sendable (KinstaSimulator, SimCall, inout SimulatorState) -> SimAnswer

    /// Each path parameter's name in the file, and its name in the router: the router wants one name per position
    /// where routes part (`/sites/environments/{env_id}` and `…/{target_env_id}/backups/restore`), so it names each
    /// by its segment's position.
    var parameterNames: [(name: String, routerName: String)] {
        path.split(separator: "/").enumerated().compactMap { index, segment in
            segment.hasPrefix("{") ? (String(segment.dropFirst().dropLast()), "p\(index)") : nil
        }
    }

    /// The path as the router takes it: `/sites/environments/{p2}/backups/restore`.
    var routerPath: String {
        "/"
            + path.split(separator: "/").enumerated().map { index, segment in
                segment.hasPrefix("{") ? "{p\(index)}" : String(segment)
            }.joined(separator: "/")
    }
}

/// A `/v2` request no route takes answers Kinsta's 404 through the shared wrapper (so it is logged, and auth and
/// chaos apply to it as to any other).
struct KinstaFallback: RouterMiddleware {
    typealias Context = BasicRequestContext
    let simulator: KinstaSimulator

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && request.uri.path.hasPrefix("/v2/") {
            return try await simulator.serve(request, context: context, route: nil)
        }
    }
}
