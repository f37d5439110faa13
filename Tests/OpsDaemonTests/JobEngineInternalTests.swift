import Foundation
import Logging
import OpsCore
@testable import OpsDaemon
import OpsStore
import Testing

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
            level: level, message: "job state changed", metadata: ["job.id": "7", "message": "Kinsta said: no"],
            journal: true)
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
