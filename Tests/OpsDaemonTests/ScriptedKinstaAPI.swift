import Foundation
import KinstaClient
import OpsCore
import Synchronization

/// A ``KinstaAPI`` whose answers a test scripts, recording every call. Lives beside the real one's seam; the engine
/// cannot tell them apart.
final class ScriptedKinstaAPI: KinstaAPI {
    struct Script: Sendable {
        var submit: @Sendable (KinstaCall) -> SubmitOutcome = { _ in .accepted(operationID: "sites:add-\(UUID())") }
        /// Answer to the n-th poll (0-based) of an operation.
        var poll: @Sendable (String, Int) -> PollOutcome = { _, _ in .finished(data: nil) }
        var read: @Sendable (String) -> KinstaRead = { _ in
            .failure(.init(status: 500, message: "x", isTransient: true))
        }
    }

    enum Call: Hashable {
        case submit(KinstaCall)
        case poll(String)
        case read(String)
    }

    private let state: Mutex<(script: Script, calls: [Call], polls: [String: Int])>

    init(_ script: Script = Script()) {
        state = Mutex((script, [], [:]))
    }

    func update(_ change: (inout Script) -> Void) { state.withLock { change(&$0.script) } }

    var calls: [Call] { state.withLock { $0.calls } }
    var submits: [KinstaCall] {
        calls.compactMap { if case .submit(let call) = $0 { return call } else { return nil } }
    }
    var pollCount: Int { calls.filter { if case .poll = $0 { true } else { false } }.count }

    func submit(_ call: KinstaCall) async -> SubmitOutcome {
        state.withLock { state in
            state.calls.append(.submit(call))
            return state.script.submit(call)
        }
    }

    func operationStatus(_ operationID: String) async -> PollOutcome {
        state.withLock { state in
            state.calls.append(.poll(operationID))
            let index = state.polls[operationID, default: 0]
            state.polls[operationID] = index + 1
            return state.script.poll(operationID, index)
        }
    }

    func read(_ path: String) async -> KinstaRead {
        state.withLock { state in
            state.calls.append(.read(path))
            return state.script.read(path)
        }
    }
}
