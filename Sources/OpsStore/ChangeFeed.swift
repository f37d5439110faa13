import Synchronization

/// Tells listeners that the database changed (a job was written, an event appended), after the commit.
///
/// Listeners get a stream that holds at most one pending signal: they re-read the database on each, so signals that
/// arrive while they are busy merge into one and none is lost.
public final class ChangeFeed: Sendable {
    private let listeners = Mutex<[Int: AsyncStream<Void>.Continuation]>([:])
    private let nextID = Mutex(0)

    public init() {}

    /// Signals every listener.
    public func notify() {
        listeners.withLock { listeners in
            for continuation in listeners.values { continuation.yield() }
        }
    }

    /// A listener's end: the signals, plus ways to wake it without a change (heartbeats) and to end it (shutdown).
    public struct Subscription: Sendable {
        public let signals: AsyncStream<Void>
        let continuation: AsyncStream<Void>.Continuation

        /// Wakes the listener as if something changed; it re-reads and finds nothing new.
        public func poke() { continuation.yield() }

        /// Ends the stream: the listener's loop finishes.
        public func close() { continuation.finish() }
    }

    /// A new subscription; it unregisters when closed or when the consumer stops iterating.
    public func subscribe() -> Subscription {
        let id = nextID.withLock { value in
            value += 1
            return value
        }
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { [weak self] _ in
            _ = self?.listeners.withLock { $0.removeValue(forKey: id) }
        }
        listeners.withLock { $0[id] = continuation }
        return Subscription(signals: stream, continuation: continuation)
    }
}
