import Foundation
import KinstaClient
import OpsCore
import Testing

/// Hostile operation IDs: refused at the submit answer, and never able to steer a poll out of `/operations/`.
@Suite struct OperationIDTests {
    static let refused: [String] = [
        "", ".", "..", String(repeating: "a", count: OperationID.maxLength + 1), "../../../sites/0b1c",
        "sites/add-1", "sites:add-1\n", "sites:add-1\r\nX-Evil: 1", "tab\there", "nul\u{0}", "del\u{7F}",
        "c1\u{85}",
    ]

    @Test(arguments: refused)
    func refusedIDSettlesAsAmbiguous(_ id: String) throws {
        let body = try JSONSerialization.data(withJSONObject: ["operation_id": id, "status": 202])
        guard case .ambiguous = KinstaAnswer.submitOutcome(status: 202, body: body, retryAfter: nil) else {
            Issue.record("an operation ID of \(id.debugDescription) must not be accepted")
            return
        }
        #expect(OperationID.refusal(id) != nil)
    }

    @Test func longestIDIsTaken() {
        let id = "sites:add-" + String(repeating: "f", count: OperationID.maxLength - 10)
        let body = Data(#"{"operation_id":"\#(id)","status":202}"#.utf8)
        #expect(KinstaAnswer.submitOutcome(status: 202, body: body, retryAfter: nil) == .accepted(operationID: id))
    }

    /// Foundation's decoder took the first of two `operation_id` members, a decoy; a strict reading takes neither.
    @Test func duplicateOperationIDIsAmbiguous() {
        let body = Data(#"{"operation_id":"sites:add-decoy","operation_id":"sites:add-real","status":202}"#.utf8)
        guard case .ambiguous = KinstaAnswer.submitOutcome(status: 202, body: body, retryAfter: nil) else {
            Issue.record("a body with operation_id twice must not be accepted")
            return
        }
    }

    @Test func duplicateMembersAreNotJSONForPollsAndReads() {
        let poll = Data(#"{"status":200,"status":202,"data":null}"#.utf8)
        #expect(
            KinstaAnswer.pollOutcome(status: 200, body: poll, retryAfter: nil)
                == .transient(reason: "Kinsta answered HTTP 200 with a body that is not its JSON")
        )
        let read = Data(#"{"site":{"id":"a","id":"b"}}"#.utf8)
        guard case .failure(let failure) = KinstaAnswer.read(status: 200, body: read, retryAfter: nil) else {
            Issue.record("a read answer with a member twice must not be taken")
            return
        }
        #expect(failure.isTransient)
    }

    @Test func colonStaysAsItIs() {
        #expect(
            OperationID.pollPath("sites:add-8dc99dce-2b41-4d28-a4b1-d1b1d0a1b6d3")
                == "/operations/sites:add-8dc99dce-2b41-4d28-a4b1-d1b1d0a1b6d3"
        )
    }

    static let hostilePaths: [String] = [
        "..", ".", "...", "%2e%2e", "%2E%2E/..", "a?b=1", "a#frag", "a b", "a/../../b", "../../../sites/x", "a%2Fb",
        "\\..\\..", "é", "a;b", "a\u{0}b",
    ]

    /// Whatever the ID, the path is one segment under `/operations/` with no dot segment, and decodes back to it.
    @Test(arguments: hostilePaths)
    func pollPathStaysInsideOperations(_ id: String) throws {
        let path = OperationID.pollPath(id)
        #expect(path.hasPrefix("/operations/"))
        let segment = String(path.dropFirst("/operations/".count))
        #expect(!segment.isEmpty)
        #expect(!segment.contains("/") && !segment.contains("?") && !segment.contains("#") && !segment.contains(" "))
        #expect(segment != "." && segment != ".." && segment != "...")
        #expect(segment.allSatisfy { $0.isASCII && !$0.isWhitespace })
        #expect(segment.removingPercentEncoding == id)
    }
}
