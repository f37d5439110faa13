import Foundation
import Logging
import OpsCore
import OpsStore
import OpsTestSupport
import Testing

@testable import OpsDaemon

/// Engine internals that the public API cannot reach: the claim → perform race found by the end-to-end test.
@Suite struct JobEngineInternalTests {
    @Test func aStaleClaimIsNeverSubmittedAgain() async throws {
        // Given a job claimed for submission
        let h = try JobEngineTests().harness()
        let job = try await h.submit(.siteCreatePlain, JobEngineTests.plain)
        try await h.engine.admit()
        let claimed = try await h.engine.claimDue(limit: 8)
        #expect(claimed.map(\.id) == [job.id])

        // When it is performed (Kinsta accepts), and then the same stale claim is performed again, as happens when
        // the loop read the row just before the first call committed
        await h.engine.perform(claimed[0])
        await h.engine.perform(claimed[0])

        // Then Kinsta saw one submission, and the job is accepted
        #expect(h.api.submits.count == 1)
        #expect(try await h.job(job.id).state == .accepted)
    }
}

/// Log lines: static message, data in metadata; sd-daemon priority prefixes under the journal.
@Suite struct LogFormatTests {
    @Test(arguments: [
        (Logger.Level.error, "<3>"), (.critical, "<2>"), (.warning, "<4>"), (.notice, "<5>"), (.info, "<6>"),
        (.debug, "<7>"), (.trace, "<7>"),
    ])
    func journalLinesCarryThePriority(level: Logger.Level, prefix: String) {
        let line = StderrLogHandler.format(
            level: level,
            message: "job state changed",
            metadata: ["job.id": "7", "message": "Kinsta said: no"],
            journal: true
        )
        #expect(line.hasPrefix(prefix + "\(level.rawValue) job state changed"))
        #expect(line.contains(#"job.id=7"#))
        #expect(line.contains(#"message="Kinsta said: no""#))
        #expect(line.hasSuffix("\n"))
    }

    @Test func terminalLinesCarryATimestampAndNoPrefix() {
        let line = StderrLogHandler.format(level: .info, message: "listening", metadata: [:], journal: false)
        #expect(!line.hasPrefix("<"))
        #expect(line.contains(" info listening"))
    }
}

/// The request budget under a manual clock: every call waits its turn, and a 429 holds all of them.
@Suite struct RequestBudgetTests {
    @Test func callsWaitForTokensAndA429HoldsEveryone() async throws {
        let clock = ManualClock()
        let start = clock.now()
        let budget = RequestBudget(ratePerMinute: 60, burst: 2, clock: clock)
        var script = ScriptedKinstaAPI.Script()
        script.poll = { _, index in index == 2 ? .rateLimited(retryAfter: 30) : .inProgress }
        let api = BudgetedKinstaAPI(wrapped: ScriptedKinstaAPI(script), budget: budget)
        // Two calls use the burst at once
        _ = await api.operationStatus("op")
        _ = await api.operationStatus("op")
        #expect(budget.snapshot["used_last_minute"] == .integer(2))
        // The third waits for a token: it is under way only once the clock reaches +1 s
        let third = Task { await api.operationStatus("op") }
        try await waitUntil { clock.hasSleepers }
        clock.advance(by: 1)
        #expect(await third.value == .rateLimited(retryAfter: 30))
        // The 429 paused the whole budget for 30 s: the next call waits until then
        #expect(budget.snapshot["paused_for_seconds"] == .number(30))
        let fourth = Task { await api.operationStatus("op") }
        try await waitUntil { clock.hasSleepers }
        clock.advance(by: 29)
        try await waitUntil { clock.hasSleepers }
        clock.advance(to: start.addingTimeInterval(31))
        #expect(await fourth.value == .inProgress)
        #expect(budget.snapshot["rate_limited_total"] == .integer(1))
    }

    /// Lets other tasks run until `condition` holds (a task reaching its sleep, not a span of time).
    func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<10_000 where !condition() { await Task.yield() }
        #expect(condition())
    }
}
