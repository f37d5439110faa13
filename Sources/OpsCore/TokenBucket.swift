#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// One request budget for every call to Kinsta: `ratePerMinute` tokens a minute, at most `burst` saved up, and a
/// pause of the whole budget when Kinsta answers 429. Pure: `now` is passed in.
///
/// With the defaults (60/min, burst 10): ten calls go at once, then one a second.
public struct TokenBucket: Sendable, Hashable {
    public let ratePerMinute: Double
    public let burst: Double
    public private(set) var tokens: Double
    public private(set) var updatedAt: Date
    /// No call goes out before this (a 429's `Retry-After`, or the backoff).
    public private(set) var pausedUntil: Date?

    public init(ratePerMinute: Double, burst: Double, now: Date) {
        self.ratePerMinute = max(ratePerMinute, 0.001)
        self.burst = max(burst, 1)
        self.tokens = max(burst, 1)
        self.updatedAt = now
    }

    /// Takes a token if one is there and no pause holds: returns 0. Otherwise returns how many seconds to wait
    /// before asking again (nothing is taken).
    public mutating func take(now: Date) -> Double {
        refill(now)
        if let pausedUntil, now < pausedUntil { return pausedUntil.timeIntervalSince(now) }
        pausedUntil = nil
        if tokens >= 1 {
            tokens -= 1
            return 0
        }
        return (1 - tokens) * 60 / ratePerMinute
    }

    /// Holds every call until `until` (never shortens a pause already in force).
    public mutating func pause(until: Date) {
        pausedUntil = max(pausedUntil ?? until, until)
        tokens = 0
    }

    private mutating func refill(_ now: Date) {
        let elapsed = max(0, now.timeIntervalSince(updatedAt))
        tokens = min(burst, tokens + elapsed * ratePerMinute / 60)
        updatedAt = max(updatedAt, now)
    }
}
