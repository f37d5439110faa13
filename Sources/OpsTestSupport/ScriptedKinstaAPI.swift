import Foundation
public import KinstaClient
public import OpsCore
import Synchronization

/// A ``KinstaAPI`` whose answers a test scripts, recording every call. Lives beside the real one's seam; the engine
/// cannot tell them apart. In test support so every test target (and the benchmark) scripts Kinsta the same way.
public final class ScriptedKinstaAPI: KinstaAPI {
    /// What Kinsta answers; every member has a default, so a test sets only what it is about.
    public struct Script: Sendable {
        public var submit: @Sendable (KinstaCall) -> SubmitOutcome = { _ in
            .accepted(operationID: "sites:add-\(UUID())")
        }
        /// Answer to the n-th poll (0-based) of an operation.
        public var poll: @Sendable (String, Int) -> PollOutcome = { _, _ in .finished(data: nil) }
        public var read: @Sendable (String) -> KinstaRead = { _ in
            .failure(.init(status: 500, message: "x", isTransient: true))
        }

        public init() {}
    }

    /// One call the engine made, in order.
    public enum Call: Hashable, Sendable {
        case submit(KinstaCall)
        case poll(String)
        case read(String)
    }

    private let state: Mutex<(script: Script, calls: [Call], polls: [String: Int])>

    public init(_ script: Script = Script()) {
        state = Mutex((script, [], [:]))
    }

    /// Changes the script mid-test (Kinsta starts answering differently).
    public func update(_ change: (inout Script) -> Void) { state.withLock { change(&$0.script) } }

    public var calls: [Call] { state.withLock { $0.calls } }
    public var submits: [KinstaCall] {
        calls.compactMap { if case .submit(let call) = $0 { return call } else { return nil } }
    }
    public var pollCount: Int { calls.filter { if case .poll = $0 { true } else { false } }.count }

    public func submit(_ call: KinstaCall) async -> SubmitOutcome {
        state.withLock { state in
            state.calls.append(.submit(call))
            return state.script.submit(call)
        }
    }

    public func operationStatus(_ operationID: String) async -> PollOutcome {
        state.withLock { state in
            state.calls.append(.poll(operationID))
            let index = state.polls[operationID, default: 0]
            state.polls[operationID] = index + 1
            return state.script.poll(operationID, index)
        }
    }

    public func read(_ path: String) async -> KinstaRead {
        state.withLock { state in
            state.calls.append(.read(path))
            return state.script.read(path)
        }
    }
}
