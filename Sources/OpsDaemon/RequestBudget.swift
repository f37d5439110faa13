import Foundation
package import KinstaClient
public import OpsCore
import Synchronization

/// The daemon's one request budget, shared by submits, polls, reconciliation reads and the read-through routes.
/// A 429 pauses all of them: for `Retry-After`, or for a backoff that doubles with each 429 in a row (2 s … 60 s).
///
/// Besides the token bucket, no more than `ratePerMinute` calls go out in any 60 s: a full burst on top of a minute
/// at the steady rate would otherwise send `burst + rate` calls in one minute, and a server that counts per sliding
/// minute (as the simulator does, and as Kinsta may) answers the extra ones 429.
public final class RequestBudget: Sendable {
    private struct State {
        var bucket: TokenBucket
        var used: [Date] = []
        var rateLimitedStreak = 0
        var rateLimitedTotal = 0
    }

    private let state: Mutex<State>
    let clock: any DaemonClock

    public init(ratePerMinute: Double, burst: Double, clock: any DaemonClock) {
        self.clock = clock
        state = Mutex(State(bucket: TokenBucket(ratePerMinute: ratePerMinute, burst: burst, now: clock.now())))
    }

    /// Waits for a token (on the daemon's clock), then records the call.
    func acquire() async throws {
        while true {
            let now = clock.now()
            let wait = state.withLock { state -> Double in
                state.used.removeAll { now.timeIntervalSince($0) >= 60 }
                if let windowWait = Self.windowWait(state, now: now) { return windowWait }
                let wait = state.bucket.take(now: now)
                if wait == 0 { state.used.append(now) }
                return wait
            }
            if wait == 0 { return }
            try await clock.sleep(until: now.addingTimeInterval(wait))
        }
    }

    /// Seconds until the sliding minute has room again, when it is full.
    private static func windowWait(_ state: State, now: Date) -> Double? {
        let limit = Int(state.bucket.ratePerMinute.rounded(.down))
        guard limit >= 1, state.used.count >= limit else { return nil }
        let oldest = state.used[state.used.count - limit]
        return max(0.001, 60 - now.timeIntervalSince(oldest))
    }

    /// How many calls could start now without waiting: what the engine claims at most.
    func available() -> Int {
        let now = clock.now()
        return state.withLock { state in
            var bucket = state.bucket
            let inWindow = state.used.filter { now.timeIntervalSince($0) < 60 }.count
            let windowRoom = max(0, Int(bucket.ratePerMinute.rounded(.down)) - inWindow)
            var tokens = 0
            while tokens < windowRoom, bucket.take(now: now) == 0 { tokens += 1 }
            return tokens
        }
    }

    /// When the next call could start (now, if one can).
    func nextTokenAt() -> Date {
        let now = clock.now()
        return state.withLock { state in
            var copy = state
            copy.used.removeAll { now.timeIntervalSince($0) >= 60 }
            let windowWait = Self.windowWait(copy, now: now) ?? 0
            let bucketWait = copy.bucket.take(now: now)
            return now.addingTimeInterval(max(windowWait, bucketWait))
        }
    }

    /// Kinsta answered 429: pause the whole budget.
    func rateLimited(retryAfter: Double?) {
        let now = clock.now()
        state.withLock { state in
            state.rateLimitedStreak += 1
            state.rateLimitedTotal += 1
            let backoff = min(60, 2 * pow(2, Double(min(state.rateLimitedStreak - 1, 10))))
            state.bucket.pause(until: now.addingTimeInterval(retryAfter ?? backoff))
        }
    }

    /// A call got an answer that was not a 429.
    func answered() { state.withLock { $0.rateLimitedStreak = 0 } }

    /// For health: the budget, what the last minute used, and any pause in force.
    public var snapshot: [String: JSONValue] {
        let now = clock.now()
        return state.withLock { state in
            var result: [String: JSONValue] = [
                "per_minute": .number(state.bucket.ratePerMinute), "burst": .number(state.bucket.burst),
                "used_last_minute": .integer(Int64(state.used.filter { now.timeIntervalSince($0) < 60 }.count)),
                "rate_limited_total": .integer(Int64(state.rateLimitedTotal)),
            ]
            if let until = state.bucket.pausedUntil, until > now {
                result["paused_for_seconds"] = .number((until.timeIntervalSince(now) * 10).rounded() / 10)
            }
            return result
        }
    }
}

/// Wraps a ``KinstaAPI`` so every call first takes a token from the budget, and a 429 pauses the budget.
package struct BudgetedKinstaAPI: KinstaAPI {
    package init(wrapped: any KinstaAPI, budget: RequestBudget) {
        self.wrapped = wrapped
        self.budget = budget
    }

    let wrapped: any KinstaAPI
    let budget: RequestBudget

    package func submit(_ call: KinstaCall) async -> SubmitOutcome {
        do { try await budget.acquire() } catch { return .notSent(reason: "the daemon is stopping") }
        let outcome = await wrapped.submit(call)
        if case .rateLimited(let retryAfter) = outcome {
            budget.rateLimited(retryAfter: retryAfter)
        } else {
            budget.answered()
        }
        return outcome
    }

    package func operationStatus(_ operationID: String) async -> PollOutcome {
        do { try await budget.acquire() } catch { return .transient(reason: "the daemon is stopping") }
        let outcome = await wrapped.operationStatus(operationID)
        if case .rateLimited(let retryAfter) = outcome {
            budget.rateLimited(retryAfter: retryAfter)
        } else {
            budget.answered()
        }
        return outcome
    }

    package func read(_ path: String) async -> KinstaRead {
        do { try await budget.acquire() } catch {
            return .failure(KinstaReadFailure(status: nil, message: "the daemon is stopping", isTransient: true))
        }
        let answer = await wrapped.read(path)
        if case .failure(let failure) = answer, failure.status == 429 {
            budget.rateLimited(retryAfter: failure.retryAfter)
        } else {
            budget.answered()
        }
        return answer
    }
}
