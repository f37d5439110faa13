import Foundation
import HTTPTypes

/// One write endpoint that answers an `operation_id`, as Kinsta's OpenAPI file (v1.87.0) declares it.
struct SimWrite: Sendable {
    /// The kind's name, as the daemon's catalog names it (`cache.clear`).
    var kind: String
    var method: HTTPRequest.Method
    /// The path as the file writes it, without `/v2`.
    var path: String
    /// The `operation_id` prefix (the file's, or the one recorded answers show where they differ).
    var prefix: String
    /// 202, or 200 for the few that answer the id with 200.
    var status: Int = 202
    /// Path parameters the file types (`format: uuid`, `number`); the others are plain strings.
    var pathSchema: [String: SimSchema] = [:]
    /// The request body's schema; nil when the endpoint takes none.
    var body: SimSchema?
    /// Unscaled duration range in seconds.
    var duration: ClosedRange<Double>
    /// What is checked beyond the schema (ids that exist, names in use) and what the operation occupies and does.
    var plan: @Sendable (KinstaSimulator, SimCall, SimJSON, inout SimulatorState) -> SimPlan

    var route: SimRoute {
        SimRoute(method: method, path: path) { simulator, call, state in simulator.submit(self, call, &state) }
    }
}

/// What a write does once its request passed the schema: a refusal, or an operation.
enum SimPlan {
    case refuse(SimAnswer)
    case start(scope: SimScope, target: String?, displayName: String? = nil, effect: SimEffect? = nil)
}

extension KinstaSimulator {
    /// A write: its path parameters and body against the file's schema, then its own checks, the busy refusal, and
    /// the operation.
    func submit(_ write: SimWrite, _ call: SimCall, _ state: inout SimulatorState) -> SimAnswer {
        for (name, schema) in write.pathSchema.sorted(by: { $0.key < $1.key }) {
            let raw = call[name]
            let value: SimJSON
            if case .number = schema {
                guard let number = Double(raw) else { return .badRequest("\"\(name)\" must be a number") }
                value = .number(number)
            } else {
                value = .string(raw)
            }
            if let refusal = schema.refusal(of: value, at: name) { return .badRequest(refusal) }
        }
        var body = SimJSON.object([:])
        if let schema = write.body {
            if !call.body.isEmpty {
                guard let parsed = SimJSON.parse(call.body) else { return .badRequest("Bad request format") }
                body = parsed
            }
            if let refusal = schema.refusal(of: body, at: "") { return .badRequest(refusal) }
        }
        switch write.plan(self, call, body, &state) {
        case .refuse(let answer):
            return answer
        case .start(let scope, let target, let displayName, let effect):
            return start(
                write,
                scope: scope,
                target: target,
                displayName: displayName,
                effect: effect,
                now: call.now,
                state: &state
            )
        }
    }

    private func start(
        _ write: SimWrite,
        scope: SimScope,
        target: String?,
        displayName: String?,
        effect: SimEffect?,
        now: Date,
        state: inout SimulatorState
    ) -> SimAnswer {
        if configuration.chaos.refuseBlocked, scope != .none,
            state.pending.contains(where: { id in
                state.operations[id].map { $0.doneAt > now && $0.scope.collides(with: scope) } ?? false
            })
                || (configuration.chaos.blockedRate > 0 && state.chaosRandom.unit() < configuration.chaos.blockedRate)
        {
            return .badRequest(SimAnswer.blockedMessage)
        }
        let id = write.prefix + state.random.uuid()
        let window: Double
        let unscaled: Double
        switch configuration.durations {
        case .uniform:
            window = state.random.uniform(0, max(0, configuration.startupWindowMax))
            unscaled = state.random.uniform(write.duration.lowerBound, write.duration.upperBound)
        case .kinstaLike(let tailRate):
            var draw = SimRandom(
                seed: configuration.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(state.operationOrder.count)
            )
            window = draw.uniform(0, max(0, configuration.startupWindowMax))
            unscaled = Self.kinstaLikeDuration(write.duration, tailRate: tailRate, using: &draw)
        }
        var scale = configuration.durationScale
        if let shift = configuration.durationShift, state.operationOrder.count >= shift.afterOperations {
            scale = shift.scale
        }
        let duration = unscaled * max(0, scale)
        let fails = state.random.unit() < configuration.failureRate
        let visible = now.addingTimeInterval(window)
        state.operations[id] = SimOperation(
            id: id,
            kind: write.kind,
            createdAt: now,
            visibleAt: visible,
            doneAt: visible.addingTimeInterval(duration),
            fails: fails,
            target: target,
            displayName: displayName,
            scope: scope,
            effect: effect
        )
        state.operationOrder.append(id)
        state.pending.append(id)
        var answer = SimAnswer.json(
            write.status,
            [
                "operation_id": id,
                "message": "\(write.kind) in progress. Use the operation_id to check the status.",
                "status": write.status,
            ]
        )
        answer.operationID = id
        return answer
    }

    /// `GET /operations/{operation_id}`: 404 while invisible, 202 (or chaos) while it runs, then 200 or 500.
    func operationStatus(_ call: SimCall, _ state: inout SimulatorState) -> SimAnswer {
        guard let operation = state.operations[call["operation_id"]] else { return .notFound }
        switch operation.state(at: call.now) {
        case "invisible":
            return .json(404, ["message": SimAnswer.notFoundMessage, "status": 404])
        case "running":
            let chaos = configuration.chaos
            let draw = state.chaosRandom.unit()
            if draw < chaos.transient500Rate {
                return .json(500, ["message": "Error occurred while processing your request", "status": 500])
            }
            if draw < chaos.transient500Rate + chaos.late404Rate {
                return .json(404, ["message": SimAnswer.notFoundMessage, "status": 404])
            }
            return .json(202, ["status": 202, "message": "Operation in progress", "data": NSNull()])
        case "failed":
            return .json(
                500,
                [
                    "message": "Error occurred while processing your request", "status": 500,
                    "data": ["message": SimAnswer.blockedMessage],
                ]
            )
        default:
            let data: Any = operation.newSiteID.map { ["idSite": $0] } ?? NSNull()
            return .json(200, ["message": "Successfully finished request", "status": 200, "data": data])
        }
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
}

extension KinstaSimulator {
    /// `count` times from acceptance to the end of operations of `kind`, drawn as a submit draws them under this
    /// configuration (start-up window, `durations`, `durationScale`) but from a generator of their own: a sample of
    /// the distribution the simulator draws from, not the operations a run meets. For the benchmark's frontier (what
    /// a schedule that knew each kind's distribution could do). Empty for a kind the simulator does not know.
    public func durationSample(of kind: String, count: Int, seed: UInt64) -> [Double] {
        guard let write = Self.writes.first(where: { $0.kind == kind }) else { return [] }
        var draw = SimRandom(seed: seed)
        return (0..<count).map { _ in
            let window = draw.uniform(0, max(0, configuration.startupWindowMax))
            let unscaled: Double
            switch configuration.durations {
            case .uniform: unscaled = draw.uniform(write.duration.lowerBound, write.duration.upperBound)
            case .kinstaLike(let tailRate):
                unscaled = Self.kinstaLikeDuration(write.duration, tailRate: tailRate, using: &draw)
            }
            return window + unscaled * max(0, configuration.durationScale)
        }
    }
}
