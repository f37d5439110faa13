import Foundation
import OpsCore
import Testing

@Suite struct TokenBucketTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func burstThenSteadyRate() {
        var bucket = TokenBucket(ratePerMinute: 60, burst: 10, now: t0)
        // Ten go at once
        for _ in 0..<10 { #expect(bucket.take(now: t0) == 0) }
        // The eleventh waits one second, and gets through then
        #expect(bucket.take(now: t0) == 1)
        #expect(bucket.take(now: t0.addingTimeInterval(1)) == 0)
        #expect(abs(bucket.take(now: t0.addingTimeInterval(1.5)) - 0.5) < 1e-9)
        // A long quiet spell saves up no more than the burst
        for _ in 0..<10 { #expect(bucket.take(now: t0.addingTimeInterval(3600)) == 0) }
        #expect(bucket.take(now: t0.addingTimeInterval(3600)) > 0)
    }

    @Test func a429PausesEverythingAndNeverShortens() {
        var bucket = TokenBucket(ratePerMinute: 600, burst: 10, now: t0)
        bucket.pause(until: t0.addingTimeInterval(30))
        bucket.pause(until: t0.addingTimeInterval(5))
        #expect(bucket.take(now: t0.addingTimeInterval(1)) == 29)
        #expect(bucket.take(now: t0.addingTimeInterval(30)) == 0 || bucket.take(now: t0.addingTimeInterval(30.2)) == 0)
    }
}
