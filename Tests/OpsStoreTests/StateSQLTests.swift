import OpsCore
import Testing

@testable import OpsStore

@Suite struct StateSQLTests {
    @Test func theListsAreTheStatesOfJobState() {
        #expect(StateSQL.inFlight == "('submitting', 'accepted', 'running')")
        #expect(StateSQL.terminal == "('succeeded', 'failed', 'timed_out', 'cancelled', 'needs_attention', 'skipped')")
        for state in JobState.allCases {
            #expect(StateSQL.inFlight.contains("'\(state.rawValue)'") == state.isInFlight, "\(state)")
            #expect(StateSQL.terminal.contains("'\(state.rawValue)'") == state.isTerminal, "\(state)")
        }
    }
}
