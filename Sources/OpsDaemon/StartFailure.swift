import ServiceLifecycle
import Synchronization

/// Ends the service group with the error of a start step that runs inside another service: the socket is published
/// in Hummingbird's `onServerRunning`, which cannot throw. Without it a socket that could not be put at its path would
/// leave a daemon running that nobody can reach and that never says READY. Ends quietly on shutdown.
final class StartFailure: Service, Sendable {
    private enum State {
        case waiting(CheckedContinuation<(any Error)?, Never>?)
        case ended((any Error)?)
    }

    private let state = Mutex(State.waiting(nil))

    /// Stops the group; the daemon exits with `error`.
    func fail(_ error: any Error) { end(error) }

    func run() async throws {
        let error = await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<(any Error)?, Never>) in
                    let ended = state.withLock { state -> (any Error)?? in
                        if case .ended(let error) = state { return .some(error) }
                        state = .waiting(continuation)
                        return nil
                    }
                    if let ended { continuation.resume(returning: ended) }
                }
            } onCancel: {
                self.end(nil)
            }
        } onGracefulShutdown: {
            self.end(nil)
        }
        if let error { throw error }
    }

    private func end(_ error: (any Error)?) {
        let waiting = state.withLock { state -> CheckedContinuation<(any Error)?, Never>? in
            guard case .waiting(let continuation) = state else { return nil }
            state = .ended(error)
            return continuation
        }
        waiting?.resume(returning: error)
    }
}
