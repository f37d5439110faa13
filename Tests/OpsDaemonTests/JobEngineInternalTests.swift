import Foundation
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
