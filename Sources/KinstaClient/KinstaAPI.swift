public import OpsCore

/// The Kinsta API as the engine needs it. Answers are values the core understands; implementations never retry or
/// loop: the state machine decides what happens next.
public protocol KinstaAPI: Sendable {
    /// Sends a job's submit call (`POST /sites`, `DELETE /sites/{id}`, …).
    func submit(_ call: KinstaCall) async -> SubmitOutcome
    /// Sends a job's submit call, first calling `willSend` once nothing but the request itself stands between the
    /// call and Kinsta (after any wait for the request budget). The engine records there that the POST may leave;
    /// if `willSend` throws, nothing is sent.
    func submit(_ call: KinstaCall, willSend: @Sendable () async throws -> Void) async -> SubmitOutcome
    /// `GET /operations/{id}`.
    func operationStatus(_ operationID: String) async -> PollOutcome
    /// `GET` of a read endpoint (`/sites?company=…`, `/sites/{id}`, …): the parsed JSON body or why not.
    func read(_ path: String) async -> KinstaRead
}

extension KinstaAPI {
    /// Nothing waits before the request here: `willSend`, then the call.
    public func submit(_ call: KinstaCall, willSend: @Sendable () async throws -> Void) async -> SubmitOutcome {
        do { try await willSend() } catch { return .notSent(reason: "the submission could not be recorded as sent") }
        return await submit(call)
    }
}

/// The answer of a read endpoint.
public enum KinstaRead: Sendable, Hashable {
    /// 200 with a JSON body.
    case ok(JSONValue)
    /// 404: the thing does not exist (or the key may not see it; Kinsta does not tell the two apart).
    case notFound(message: String)
    /// Anything else.
    case failure(KinstaReadFailure)
}

/// Why a read gave no data.
public struct KinstaReadFailure: Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status, when an answer came.
    public var status: Int?
    /// Kinsta's message, or what went wrong on the way.
    public var message: String
    /// Seconds Kinsta asked to wait (429 `Retry-After`).
    public var retryAfter: Double?
    /// Whether asking again later may succeed (429, 5xx, timeouts, unreadable bodies) rather than never (400, 401).
    public var isTransient: Bool

    public init(status: Int?, message: String, retryAfter: Double? = nil, isTransient: Bool) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.isTransient = isTransient
    }

    public var description: String {
        status.map { "Kinsta answered HTTP \($0): \(message)" } ?? message
    }
}
