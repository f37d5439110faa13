import OpsStore
import Testing

/// The wake-up signal every loop waits on, raced against timers. A wait the timer won must leave the subscription
/// working: with an `AsyncStream` it did not (the stream finished on cancellation, every later wait returned at once,
/// and the daemon's poller spun at a full core from its first timed wait on).
@Suite struct ChangeFeedTests {
    @Test func aSignalWakesAWaiter() async {
        let feed = ChangeFeed()
        let subscription = feed.subscribe()
        async let woke = subscription.next()
        feed.notify()
        #expect(await woke)
    }

    @Test func signalsWhileNobodyWaitsAreKeptAsOne() async {
        let feed = ChangeFeed()
        let subscription = feed.subscribe()
        feed.notify()
        feed.notify()
        #expect(await subscription.next())
        // The second signal merged into the first: the next wait waits (here, until closed)
        subscription.close()
        #expect(await subscription.next() == false)
    }

    @Test func aCancelledWaitLeavesTheSubscriptionWorking() async {
        let feed = ChangeFeed()
        let subscription = feed.subscribe()
        // A wait the timer won: cancelled
        let cancelled = Task { await subscription.next() }
        cancelled.cancel()
        #expect(await cancelled.value == false)
        // Then a wait blocks until the next signal, and the signal arrives
        let waiting = Task { await subscription.next() }
        feed.notify()
        #expect(await waiting.value == true)
        // And again: nothing was used up or finished
        let again = Task { await subscription.next() }
        subscription.poke()
        #expect(await again.value == true)
    }

    @Test func manyTimedOutWaitsInARowStillWaitForTheSignal() async {
        let feed = ChangeFeed()
        let subscription = feed.subscribe()
        for _ in 0..<100 {
            // The poller's pattern: the wait races a timer that wins at once
            await withTaskGroup(of: Void.self) { group in
                group.addTask { _ = await subscription.next() }
                group.addTask {}
                await group.next()
                group.cancelAll()
            }
        }
        feed.notify()
        #expect(await subscription.next())
    }

    @Test func closedAndReleasedSubscriptionsLeaveTheFeed() async {
        let feed = ChangeFeed()
        let kept = feed.subscribe()
        do {
            let released = feed.subscribe()
            withExtendedLifetime(released) { #expect(feed.listenerCount == 2) }
        }
        #expect(feed.listenerCount == 1)
        kept.close()
        #expect(feed.listenerCount == 0)
        #expect(await kept.next() == false)
    }
}
