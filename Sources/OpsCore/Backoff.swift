/// Capped, jittered exponential backoff as a pure function: the random source is passed in.
///
/// `delay(afterAttempt: n)` is `min(cap, base × multiplier^n)`, then spread by ±`jitter`. With the poll defaults
/// (base 2 s, ×1.5, cap 20 s, ±20 %), before jitter:
///
/// | attempt | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7+ |
/// |---|---|---|---|---|---|---|---|---|
/// | delay (s) | 2 | 3 | 4.5 | 6.75 | 10.1 | 15.2 | 20 | 20 |
///
/// The exponent is capped before it is applied, so a huge attempt count can neither overflow nor trap.
public struct Backoff: Sendable, Hashable {
    public var base: Double
    public var multiplier: Double
    public var cap: Double
    /// Fraction of spread each way: 0.2 means the delay is drawn from [0.8 d, 1.2 d] (never beyond `cap × 1.2`).
    public var jitter: Double

    public init(base: Double, multiplier: Double, cap: Double, jitter: Double) {
        self.base = base
        self.multiplier = multiplier
        self.cap = cap
        self.jitter = jitter
    }

    /// The delay, in seconds, before the next try after `attempt` earlier ones.
    public func delay(afterAttempt attempt: Int, using rng: inout some RandomNumberGenerator) -> Double {
        let nominal = nominalDelay(afterAttempt: attempt)
        guard jitter > 0 else { return nominal }
        let factor = Double.random(in: (1 - jitter)...(1 + jitter), using: &rng)
        return nominal * factor
    }

    /// The delay before jitter.
    public func nominalDelay(afterAttempt attempt: Int) -> Double {
        guard multiplier > 1, base > 0 else { return min(max(base, 0), cap) }
        // Past this exponent the product is above the cap anyway; stopping here keeps pow finite.
        let limit = (log(cap / base) / log(multiplier)).rounded(.up)
        let exponent = min(Double(max(attempt, 0)), max(limit, 0))
        return min(cap, base * pow(multiplier, exponent))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
