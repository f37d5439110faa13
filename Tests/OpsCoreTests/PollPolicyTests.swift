import Foundation
import OpsCore
import Testing

/// The schedules the doc comments tabulate, checked row by row.
@Suite struct PollPolicyTests {
    @Test(arguments: [
        (0, 2.0), (1, 3.0), (2, 4.5), (3, 6.75), (4, 10.125), (5, 15.1875), (6, 20.0), (7, 20.0), (500, 20.0),
        (Int.max, 20.0),
    ])
    func pollBackoffTable(attempt: Int, seconds: Double) {
        #expect(PollPolicy().pollBackoff.nominalDelay(afterAttempt: attempt) == seconds)
    }

    @Test(arguments: [(0, 2.0), (1, 4.0), (2, 8.0), (7, 256.0), (8, 300.0), (Int.max, 300.0)])
    func errorBackoffTable(attempt: Int, seconds: Double) {
        #expect(PollPolicy().errorBackoff.nominalDelay(afterAttempt: attempt) == seconds)
    }

    @Test func firstPollThenBackoff() {
        var rng = SplitMix64(seed: 1)
        let policy = PollPolicy(pollBackoff: Backoff(base: 2, multiplier: 1.5, cap: 20, jitter: 0))
        let delays = (0..<9).map { policy.pollDelay(afterPolls: $0, using: &rng) }
        #expect(delays == [3, 2, 3, 4.5, 6.75, 10.125, 15.1875, 20, 20])
    }

    @Test func jitterStaysWithinItsBand() {
        var rng = SplitMix64(seed: 42)
        let backoff = Backoff(base: 2, multiplier: 1.5, cap: 20, jitter: 0.2)
        for attempt in 0..<2000 {
            let nominal = backoff.nominalDelay(afterAttempt: attempt % 12)
            let drawn = backoff.delay(afterAttempt: attempt % 12, using: &rng)
            #expect(drawn >= nominal * 0.8 && drawn <= nominal * 1.2)
            #expect(drawn <= 24)
        }
    }

    @Test func deadlinesPerKindAndOverrides() {
        let start = Date(timeIntervalSince1970: 0)
        let policy = PollPolicy()
        #expect(policy.deadline(for: .siteCreate, startingAt: start).timeIntervalSince1970 == 1800)
        #expect(policy.deadline(for: .siteClone, startingAt: start).timeIntervalSince1970 == 1800)
        #expect(policy.deadline(for: .siteDelete, startingAt: start).timeIntervalSince1970 == 900)
        #expect(policy.deadline(for: .backupRestore, startingAt: start).timeIntervalSince1970 == 900)
        let custom = PollPolicy(deadlines: [.siteDelete: 60])
        #expect(custom.deadline(for: .siteDelete, startingAt: start).timeIntervalSince1970 == 60)
    }

    @Test func startupWindowIsTimeBased() {
        let accepted = Date(timeIntervalSince1970: 0)
        let policy = PollPolicy()
        #expect(policy.isInStartupWindow(acceptedAt: accepted, now: accepted.addingTimeInterval(59.9)))
        #expect(!policy.isInStartupWindow(acceptedAt: accepted, now: accepted.addingTimeInterval(60)))
    }
}
