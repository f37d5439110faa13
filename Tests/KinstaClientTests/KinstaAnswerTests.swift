import Foundation
import KinstaClient
import OpsCore
import Testing

/// Every row of the mapping from Kinsta's answers to outcome values, without a server.
@Suite struct KinstaAnswerTests {
    struct SubmitCase: Sendable, CustomTestStringConvertible {
        var status: Int
        var body: String
        var retryAfter: String?
        var expected: SubmitOutcome
        var testDescription: String { "\(status) \(body.prefix(40))" }
    }

    static let submitCases: [SubmitCase] = [
        .init(
            status: 202,
            body: #"{"operation_id":"sites:add-1","message":"in progress","status":202}"#,
            expected: .accepted(operationID: "sites:add-1")
        ),
        .init(
            status: 200,
            body: #"{"operation_id":"x:1","message":"ok","status":200}"#,
            expected: .accepted(operationID: "x:1")
        ),
        .init(
            status: 202,
            body: #"{"message":"started","status":202}"#,
            expected: .ambiguous(reason: "Kinsta answered HTTP 202 without an operation ID")
        ),
        .init(
            status: 202,
            body: "<html>proxy</html>",
            expected: .ambiguous(reason: "Kinsta answered HTTP 202 without an operation ID")
        ),
        .init(
            status: 400,
            body: #"{"message":"Bad request format","status":400,"data":null}"#,
            expected: .rejected(status: 400, message: "Bad request format")
        ),
        .init(
            status: 404,
            body: #"{"status":404,"message":"Site not found","data":null}"#,
            expected: .rejected(status: 404, message: "Site not found")
        ),
        .init(
            status: 401,
            body: #"{"status":401,"message":"Unauthenticated.","data":null}"#,
            expected: .unauthorized(message: "HTTP 401: Unauthenticated.")
        ),
        .init(
            status: 429,
            body: #"{"status":429,"message":"Too many requests, please try again later."}"#,
            retryAfter: "12",
            expected: .rateLimited(retryAfter: 12)
        ),
        .init(status: 429, body: "", expected: .rateLimited(retryAfter: nil)),
        .init(
            status: 500,
            body: #"{"message":"Error occurred while processing your request","status":500}"#,
            expected: .serverError(status: 500, message: "Error occurred while processing your request")
        ),
        .init(
            status: 503,
            body: "Service Unavailable",
            expected: .serverError(status: 503, message: "no message (HTTP 503)")
        ),
        .init(
            status: 400,
            body: #"{"data":{"message":"display name taken"},"status":400}"#,
            expected: .rejected(status: 400, message: "display name taken")
        ),
        // "Blocked by another process" only means "later": nothing was started, the same request will be taken.
        .init(
            status: 400,
            body:
                #"{"message":"The environment is blocked by another process. Please try again a bit later.","status":400}"#,
            expected: .busy(message: "The environment is blocked by another process. Please try again a bit later.")
        ),
        .init(
            status: 409,
            body: #"{"status":409,"data":{"message":"Environment BLOCKED by another process"}}"#,
            expected: .busy(message: "Environment BLOCKED by another process")
        ),
    ]

    @Test(arguments: submitCases)
    func submitAnswers(_ row: SubmitCase) {
        #expect(
            KinstaAnswer.submitOutcome(status: row.status, body: Data(row.body.utf8), retryAfter: row.retryAfter)
                == row.expected
        )
    }

    struct PollCase: Sendable, CustomTestStringConvertible {
        var status: Int
        var body: String
        var expected: PollOutcome
        var testDescription: String { "\(status) \(body.prefix(40))" }
    }

    static let pollCases: [PollCase] = [
        .init(
            status: 200,
            body: #"{"message":"Successfully finished request.","status":200,"data":{"idSite":"s1"}}"#,
            expected: .finished(data: ["idSite": "s1"])
        ),
        .init(status: 200, body: #"{"message":"done","status":200,"data":null}"#, expected: .finished(data: nil)),
        .init(status: 200, body: #"{"message":"done"}"#, expected: .finished(data: nil)),
        // The Terraform provider's reading: HTTP 200 for every terminal state, the inner status decides.
        .init(
            status: 200,
            body: #"{"message":"failed","status":500,"data":{"message":"blocked"}}"#,
            expected: .failed(message: "failed")
        ),
        .init(status: 200, body: #"{"message":"running","status":202}"#, expected: .inProgress),
        .init(
            status: 200,
            body: "not json",
            expected: .transient(reason: "Kinsta answered HTTP 200 with a body that is not its JSON")
        ),
        .init(
            status: 202,
            body: #"{"status":202,"message":"Operation in progress","data":null}"#,
            expected: .inProgress
        ),
        .init(status: 404, body: #"{"message":"Could not find data","status":404}"#, expected: .notFound),
        .init(
            status: 500,
            body: #"{"message":"Error occurred while processing your request","status":500}"#,
            expected: .failed(message: "Error occurred while processing your request")
        ),
        .init(
            status: 500,
            body: "<html>Internal Server Error</html>",
            expected: .transient(reason: "HTTP 500 with a body that is not Kinsta's JSON")
        ),
        .init(status: 429, body: "", expected: .rateLimited(retryAfter: nil)),
        .init(
            status: 401,
            body: #"{"message":"No or invalid API key provided to the request","status":401}"#,
            expected: .unauthorized(message: "HTTP 401: No or invalid API key provided to the request")
        ),
        .init(
            status: 502,
            body: "Bad Gateway",
            expected: .transient(reason: "Kinsta answered HTTP 502: no message (HTTP 502)")
        ),
    ]

    @Test(arguments: pollCases)
    func pollAnswers(_ row: PollCase) {
        #expect(
            KinstaAnswer.pollOutcome(status: row.status, body: Data(row.body.utf8), retryAfter: nil) == row.expected
        )
    }

    @Test func retryAfterReadsSecondsAndDatesAndRejectsNonsense() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(KinstaAnswer.parseRetryAfter("30", now: now) == 30)
        #expect(KinstaAnswer.parseRetryAfter(" 2.5 ", now: now) == 2.5)
        #expect(
            KinstaAnswer.parseRetryAfter(
                "Fri, 15 Jan 2027 08:00:20 GMT",
                now: Date(timeIntervalSince1970: 1_800_000_000 + 0)
            )
                != nil
        )
        #expect(KinstaAnswer.parseRetryAfter("-5", now: now) == nil)
        #expect(KinstaAnswer.parseRetryAfter("soon", now: now) == nil)
        #expect(KinstaAnswer.parseRetryAfter("999999", now: now) == 3600)
        #expect(KinstaAnswer.parseRetryAfter(nil, now: now) == nil)
    }
}
