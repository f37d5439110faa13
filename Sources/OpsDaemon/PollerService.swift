import Foundation
import Logging
import OpsStore
public import ServiceLifecycle
import Synchronization

/// The engine's loop as a `Service`: admit, start what is due, sleep until the next due time or a change, repeat.
///
/// On graceful shutdown it starts nothing new and waits for the calls under way (bounded by the request timeout
/// and the group's grace), so every answer that arrived is committed before the daemon exits.
public struct PollerService: Service {
    let engine: JobEngine
    /// Longest sleep with nothing due; a safety net, since every commit wakes the loop anyway.
    let idleWake: Double
    /// Watchdog pings and status, sent from this loop.
    let heartbeat: SystemdHeartbeat?

    public init(engine: JobEngine, idleWake: Double = 60) {
        self.init(engine: engine, idleWake: idleWake, heartbeat: nil)
    }

    init(engine: JobEngine, idleWake: Double, heartbeat: SystemdHeartbeat?) {
        self.engine = engine
        self.heartbeat = heartbeat
        self.idleWake = min(idleWake, heartbeat?.maximumSleep ?? idleWake)
    }

    public func run() async throws {
        // A full disk at start: wait for writes instead of ending the daemon (systemd would restart it into the same).
        while true {
            do {
                try await engine.recover()
                break
            } catch {
                let storage = engine.database.storage
                guard storage.recordFailure(error, now: engine.clock.now()), let outage = storage.outage else {
                    throw error
                }
                engine.logger.error(
                    "cannot resume the jobs in flight: storage unavailable; trying again",
                    metadata: [
                        "error": "\(outage.reason)"
                    ]
                )
                try await engine.clock.sleep(until: outage.nextProbeAt)
            }
        }
        // Commits anywhere wake the loop, and so do the loop's own finished calls (a poke); a wait the timer wins
        // leaves the subscription working (see ChangeFeed).
        let subscription = engine.database.changes.subscribe()
        let stopping = Mutex(false)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                var turn = 0
                while !stopping.withLock({ $0 }), !Task.isCancelled {
                    turn += 1
                    await Failpoint.stallIfArmed("stall-poller", afterTurns: 4, turn: turn)
                    await heartbeat?.beat(now: engine.clock.now(), database: engine.database)
                    let storage = engine.database.storage
                    if let outage = storage.outage {
                        // Commits fail (a full disk): back off as a whole. Wait for the probe time, then try one
                        // small write; only when it goes through are the held answers committed and one action
                        // tried. Kinsta hears nothing from a daemon that could not record what it answers.
                        let now = engine.clock.now()
                        if now < outage.nextProbeAt {
                            await waitForWake(until: outage.nextProbeAt, subscription: subscription)
                            continue
                        }
                        do {
                            try await engine.database.probeWrite()
                        } catch {
                            storage.recordFailure(error, now: engine.clock.now())
                            continue
                        }
                        await engine.commitUnrecorded()
                        if let still = storage.outage {
                            // The probe went through and nothing is held (or what was held failed again, which
                            // already moved the probe time). One due action, awaited, is the real test; with
                            // nothing due, the probe is the only test there is.
                            if engine.unrecordedCount == 0 {
                                if let job = try? await engine.claimDue(limit: 1).first { await engine.perform(job) }
                                if storage.outage?.failures == still.failures { storage.recordSuccess() }
                            }
                            continue
                        }
                    }
                    do {
                        try await engine.admit()
                        for job in try await engine.claimDue(limit: engine.maxConcurrentRequests) {
                            group.addTask {
                                await engine.perform(job)
                                subscription.poke()
                            }
                        }
                        if !storage.isAvailable { continue }
                        let now = engine.clock.now()
                        let next = try await engine.nextWake() ?? now.addingTimeInterval(idleWake)
                        await waitForWake(
                            until: min(next, now.addingTimeInterval(idleWake)),
                            subscription: subscription
                        )
                    } catch {
                        // The store failed under the loop itself (a read, or an admission's commit): never end the
                        // daemon for it. A storage fault starts the outage backoff above; anything else waits 1 s.
                        let now = engine.clock.now()
                        if !storage.recordFailure(error, now: now) {
                            engine.logger.error(
                                "the engine's turn failed; trying again in 1 s",
                                metadata: [
                                    "error": "\(String(describing: type(of: error)))"
                                ]
                            )
                            await waitForWake(until: now.addingTimeInterval(1), subscription: subscription)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
            subscription.poke()
        }
        subscription.close()
    }

    /// Returns at `deadline` or at the next change signal, whichever comes first.
    ///
    /// After a signal the loop lets commits settle for `settle` before it reads the store: submissions arrive in
    /// bursts (each one a commit and a signal), and one turn for a burst does what a turn per submission would,
    /// without reading the queue and the due jobs again for each. A job waits at most that long more to start.
    private func waitForWake(until deadline: Date, subscription: ChangeFeed.Subscription) async {
        let clock = engine.clock
        let signalled = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await clock.sleep(until: deadline)
                return false
            }
            group.addTask {
                _ = await subscription.next()
                return true
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if signalled { try? await Task.sleep(for: Self.settle) }
    }

    static let settle = Duration.milliseconds(2)
}
