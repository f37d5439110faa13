import Synchronization

/// Tells listeners that something was committed (a job stored or changed), so loops wake at once instead of at their
/// next timer. A signal carries no data: a listener re-reads what it needs.
///
/// Each listener holds a ``Subscription``. Its `next()` can be raced against a timer and cancelled when the timer
/// wins, and the subscription keeps working. (An `AsyncStream` cannot serve here: cancelling the task that awaits its
/// iterator finishes the stream for good, and every later wait would return at once: a loop that waits on it with a
/// timeout spins from its first timeout on.)
public final class ChangeFeed: Sendable {
    private struct Listener {
        weak var subscription: Subscription?
    }

    private let listeners = Mutex<[Int: Listener]>([:])
    private let nextID = Mutex(0)

    public init() {}

    /// Signals every listener.
    public func notify() {
        let live = listeners.withLock { listeners -> [Subscription] in
            var live: [Subscription] = []
            live.reserveCapacity(listeners.count)
            var gone: [Int] = []
            for (id, listener) in listeners {
                if let subscription = listener.subscription { live.append(subscription) } else { gone.append(id) }
            }
            for id in gone { listeners.removeValue(forKey: id) }
            return live
        }
        for subscription in live { subscription.poke() }
    }

    /// How many subscriptions are open (closed and released ones are gone).
    public var listenerCount: Int { listeners.withLock { $0.values.filter { $0.subscription != nil }.count } }

    /// A new subscription; it leaves the feed when closed or released.
    public func subscribe() -> Subscription {
        let id = nextID.withLock { value in
            value += 1
            return value
        }
        let subscription = Subscription { [weak self] in _ = self?.listeners.withLock { $0.removeValue(forKey: id) } }
        listeners.withLock { $0[id] = Listener(subscription: subscription) }
        return subscription
    }

    /// One listener's end: signals that came since its last wait, a way to wake it without a change (heartbeats), and
    /// a way to end it (shutdown). One task waits on it at a time.
    public final class Subscription: Sendable, AsyncSequence {
        private struct State {
            var pending = false
            var closed = false
            var waiter: CheckedContinuation<Bool, Never>?
        }

        private let state = Mutex(State())
        private let leave: @Sendable () -> Void

        init(leave: @escaping @Sendable () -> Void) {
            self.leave = leave
        }

        deinit { leave() }

        /// Wakes the listener as if something changed; it re-reads and finds nothing new. Signals that come while
        /// nobody waits are kept as one.
        public func poke() {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard !state.closed else { return nil }
                if let waiter = state.waiter {
                    state.waiter = nil
                    return waiter
                }
                state.pending = true
                return nil
            }
            waiter?.resume(returning: true)
        }

        /// Ends the subscription: a waiting `next()` and every later one return `false`.
        public func close() {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                state.closed = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: false)
            leave()
        }

        /// Waits for a signal (one that came since the last wait counts at once). Returns `true` for a signal,
        /// `false` once closed or when the waiting task is cancelled; a cancelled wait leaves the subscription as it
        /// was, so the next `next()` waits again.
        public func next() async -> Bool {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let now = state.withLock { state -> Bool? in
                        if state.closed { return false }
                        if state.pending {
                            state.pending = false
                            return true
                        }
                        // Checked under the lock: a cancellation that came before this point finds no waiter to
                        // resume, so it must be seen here.
                        if Task.isCancelled { return false }
                        state.waiter = continuation
                        return nil
                    }
                    if let now { continuation.resume(returning: now) }
                }
            } onCancel: {
                let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(returning: false)
            }
        }

        /// `for await _ in subscription`: one element per signal, until closed or cancelled.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let subscription: Subscription
            public mutating func next() async -> Void? { await subscription.next() ? () : nil }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self) }
    }
}
