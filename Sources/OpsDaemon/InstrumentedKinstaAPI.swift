import Foundation
import KinstaClient
import OpsCore

/// Wraps a ``KinstaAPI`` to count every call by outcome and remember the latest answer: submits, polls and the
/// read-through queries alike.
struct InstrumentedKinstaAPI: KinstaAPI {
    let wrapped: any KinstaAPI
    let metrics: DaemonMetrics
    let clock: any DaemonClock

    func submit(_ call: KinstaCall) async -> SubmitOutcome {
        let outcome = await wrapped.submit(call)
        metrics.kinstaCall(
            "submit",
            outcome: Self.name(outcome),
            at: clock.now(),
            summary: "submit: \(Self.name(outcome))"
        )
        return outcome
    }

    func operationStatus(_ operationID: String) async -> PollOutcome {
        let outcome = await wrapped.operationStatus(operationID)
        metrics.kinstaCall(
            "operation",
            outcome: Self.name(outcome),
            at: clock.now(),
            summary: "operation: \(Self.name(outcome))"
        )
        return outcome
    }

    func read(_ path: String) async -> KinstaRead {
        let answer = await wrapped.read(path)
        let name: String =
            switch answer {
            case .ok: "ok"
            case .notFound: "not_found"
            case .failure(let failure): failure.status.map { "http_\($0)" } ?? "transport_error"
            }
        metrics.kinstaCall("read", outcome: name, at: clock.now(), summary: "read: \(name)")
        return answer
    }

    /// The outcome's case name: a bounded label.
    static func name(_ outcome: SubmitOutcome) -> String {
        switch outcome {
        case .accepted: "accepted"
        case .rejected: "rejected"
        case .unauthorized: "unauthorized"
        case .rateLimited: "rate_limited"
        case .notSent: "not_sent"
        case .serverError: "server_error"
        case .busy: "busy"
        case .ambiguous: "ambiguous"
        }
    }

    static func name(_ outcome: PollOutcome) -> String {
        switch outcome {
        case .finished: "finished"
        case .inProgress: "in_progress"
        case .notFound: "not_found"
        case .failed: "failed"
        case .rateLimited: "rate_limited"
        case .unauthorized: "unauthorized"
        case .transient: "transient"
        }
    }
}
