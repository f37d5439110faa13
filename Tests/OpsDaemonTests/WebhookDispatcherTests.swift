import Foundation
import Logging
import OpsCore
import OpsDaemon
import OpsStore
import OpsTestSupport
import OpsWebhooks
import Synchronization
import Testing

/// The outbox and its dispatcher under a manual clock, with a receiver whose answers the test scripts: every delivery
/// lands on schedule, in order, through outages, a 410 and a restart.
@Suite struct WebhookDispatcherTests {
    /// A receiver the test scripts: each call takes the next answer (the last one repeats).
    final class ScriptedReceiver: WebhookSender {
        let answers: Mutex<[DeliveryOutcome]>
        let calls = Mutex<[(at: Date, id: String, endpoint: String)]>([])
        let clock: ManualClock

        init(_ answers: [DeliveryOutcome], clock: ManualClock) {
            self.answers = Mutex(answers)
            self.clock = clock
        }

        /// Each delivery's id, as it is made (for a test that awaits them).
        let made = AsyncStream<String>.makeStream()

        func deliver(_ delivery: PreparedDelivery, to endpoint: WebhookEndpoint) async -> DeliveryOutcome {
            calls.withLock { $0.append((clock.now(), delivery.id, endpoint.name)) }
            made.continuation.yield(delivery.id)
            return answers.withLock { answers in answers.count > 1 ? answers.removeFirst() : answers[0] }
        }

        func setAnswers(_ new: [DeliveryOutcome]) { answers.withLock { $0 = new } }
    }

    static let secret = try! WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

    struct Fixture {
        let database: OpsDatabase
        let clock: ManualClock
        let registry: WebhookRegistry
        let start: Date

        init(endpoints: [WebhookEndpoint]) throws {
            database = try TemporaryDatabase.make()
            clock = ManualClock()
            start = clock.now()
            registry = WebhookRegistry(endpoints)
            database.setDeliveryPlanner(registry.deliveryPlanner())
        }

        func dispatcher(_ receiver: ScriptedReceiver) -> WebhookDispatcher {
            WebhookDispatcher(
                database: database,
                registry: registry,
                sender: receiver,
                schedule: DeliverySchedule(delays: DeliverySchedule.standard.delays, jitter: 0),
                clock: clock,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                seed: 1
            )
        }

        /// Stores a job (one event: queued) and returns its id.
        func submit(_ name: String) async throws -> Int64 {
            let params = try ValidatedParams(
                kind: .siteCreatePlain,
                raw: ["display_name": .string(name), "region": "us"],
                defaultCompany: "c"
            )
            guard
                case .created(let job) = try await database.insert(
                    NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                    now: clock.now()
                )
            else { throw FixtureError() }
            return job.id
        }

        /// Runs the endpoint's due attempts, moving the clock to each next attempt until `end`.
        func drive(_ dispatcher: WebhookDispatcher, _ name: String, until end: Date) async throws {
            while true {
                guard let next = try await dispatcher.step(name) else { break }
                if next > end { break }
                if next > clock.now() { clock.advance(to: next) }
            }
        }
    }

    struct FixtureError: Error {}

    /// The dispatcher's loop wakes when the endpoints change, not on every commit: an endpoint a reload adds gets its
    /// loop, and delivers what comes after.
    @Test(.timeLimit(.minutes(1)))
    func anEndpointAddedByAReloadGetsALoopOfItsOwn() async throws {
        let fixture = try Fixture(endpoints: [])
        let receiver = ScriptedReceiver([.delivered(status: 200)], clock: fixture.clock)
        let dispatcher = fixture.dispatcher(receiver)
        let running = Task { try await dispatcher.run() }
        defer { running.cancel() }
        // A job while no endpoint is configured: nothing to deliver
        _ = try await fixture.submit("before")
        // A reload adds one; the next event goes to it
        fixture.registry.replace([
            try WebhookEndpoint(
                name: "added",
                url: "https://receiver.invalid/hook",
                secret: Self.secret,
                events: nil,
                format: .standard
            )
        ])
        _ = try await fixture.submit("after")
        var made = receiver.made.stream.makeAsyncIterator()
        #expect(await made.next() == "msg_2_added")
        #expect(receiver.calls.withLock { $0.map(\.endpoint) } == ["added"])
    }

    @Test func anOutageIsRiddenOutOnTheScheduleAndNothingIsLostOrReordered() async throws {
        let endpoint = try WebhookEndpoint(
            name: "std",
            url: "https://receiver.invalid/hook",
            secret: Self.secret,
            events: nil,
            format: .standard
        )
        let fixture = try Fixture(endpoints: [endpoint])
        // Given three events while the receiver answers 500 three times, then a timeout, then recovers
        let receiver = ScriptedReceiver(
            [
                .retry(status: 500, reason: "HTTP 500", retryAfter: nil),
                .retry(status: 500, reason: "HTTP 500", retryAfter: nil),
                .retry(status: 500, reason: "HTTP 500", retryAfter: nil),
                .retry(status: nil, reason: "timed out", retryAfter: nil),
                .delivered(status: 200),
            ],
            clock: fixture.clock
        )
        for name in ["A", "B", "C"] { _ = try await fixture.submit(name) }
        let dispatcher = fixture.dispatcher(receiver)

        // When it runs for a day of virtual time, with a restart (a new dispatcher) after the second failure
        _ = try await dispatcher.step("std")
        fixture.clock.advance(by: 5)
        _ = try await dispatcher.step("std")
        // (Meanwhile the two younger deliveries say whom they wait behind: the first, failing, one)
        let queued = try await fixture.database.deliveries(state: .pending, endpoint: nil, limit: 10)
        #expect(queued.map(\.id) == [3, 2, 1])
        #expect(queued.map(\.waitingBehind) == [1, 1, nil])
        let restarted = fixture.dispatcher(receiver)
        try await fixture.drive(restarted, "std", until: fixture.start.addingTimeInterval(86_400))

        // Then the first delivery was tried at 0, 5 s, 5 min, 30 min, 2 h (cumulative), and all three arrived, in order
        let calls = receiver.calls.withLock { $0 }
        let firstTimes = calls.filter { $0.id == "msg_1_std" }.map { $0.at.timeIntervalSince(fixture.start) }
        #expect(firstTimes == [0, 5, 305, 2105, 9305])
        #expect(calls.map(\.id).suffix(3) == ["msg_1_std", "msg_2_std", "msg_3_std"])
        let delivered = try await fixture.database.deliveries(state: .delivered, endpoint: "std", limit: 10)
        #expect(delivered.count == 3)
        #expect(try await fixture.database.deliveries(state: .pending, endpoint: nil, limit: 10).isEmpty)
    }

    @Test func theScheduleEndsInFailedAndRedeliverStartsAgain() async throws {
        let endpoint = try WebhookEndpoint(
            name: "std",
            url: "https://receiver.invalid/hook",
            secret: Self.secret,
            events: nil,
            format: .standard
        )
        let fixture = try Fixture(endpoints: [endpoint])
        let receiver = ScriptedReceiver(
            [.retry(status: 503, reason: "HTTP 503", retryAfter: nil)],
            clock: fixture.clock
        )
        _ = try await fixture.submit("A")
        let dispatcher = fixture.dispatcher(receiver)
        try await fixture.drive(dispatcher, "std", until: fixture.start.addingTimeInterval(3 * 86_400))
        // 1 attempt + 7 retries, the last at 5+300+1800+7200+18000+36000+36000 s
        let times = receiver.calls.withLock { $0 }.map { $0.at.timeIntervalSince(fixture.start) }
        #expect(times == [0, 5, 305, 2105, 9305, 27_305, 63_305, 99_305])
        let failed = try #require(try await fixture.database.deliveries(state: .failed, endpoint: nil, limit: 10).first)
        #expect(failed.attempts == 8)
        #expect(failed.lastError == "HTTP 503")
        // An admin's redeliver queues it again from the first attempt
        receiver.setAnswers([.delivered(status: 204)])
        _ = try await fixture.database.redeliver(deliveryID: failed.id, now: fixture.clock.now())
        _ = try await dispatcher.step("std")
        #expect(try await fixture.database.deliveries(state: .delivered, endpoint: nil, limit: 10).count == 1)
    }

    @Test func a410DisablesOnlyThatEndpointAndRetryAfterIsHonoured() async throws {
        let gone = try WebhookEndpoint(
            name: "gone",
            url: "https://a.invalid/h",
            secret: Self.secret,
            events: nil,
            format: .standard
        )
        let slack = try WebhookEndpoint(
            name: "slack",
            url: "https://hooks.slack.invalid/x",
            secret: nil,
            events: [.queued],
            format: .slack
        )
        let fixture = try Fixture(endpoints: [gone, slack])
        let goneReceiver = ScriptedReceiver([.disableEndpoint(reason: "410")], clock: fixture.clock)
        let slackReceiver = ScriptedReceiver(
            [.retry(status: 429, reason: "HTTP 429", retryAfter: 42), .delivered(status: 200)],
            clock: fixture.clock
        )
        _ = try await fixture.submit("A")
        // Each endpoint has its own loop; one's trouble never holds the other
        #expect(try await fixture.dispatcher(goneReceiver).step("gone") == nil)
        #expect(try await fixture.database.disabledEndpoints().map(\.name) == ["gone"])
        #expect(try await fixture.dispatcher(goneReceiver).step("gone") == nil)
        #expect(goneReceiver.calls.withLock { $0.count } == 1)
        let slackDispatcher = fixture.dispatcher(slackReceiver)
        let next = try #require(try await slackDispatcher.step("slack"))
        #expect(next.timeIntervalSince(fixture.start) == 42)
        fixture.clock.advance(to: next)
        _ = try await slackDispatcher.step("slack")
        #expect(try await fixture.database.deliveries(state: .delivered, endpoint: "slack", limit: 10).count == 1)
        // The Slack body is Slack's shape
        let body = try #require(
            try await fixture.database.deliveries(state: nil, endpoint: "slack", limit: 1).first?.body
        )
        #expect(String(decoding: body, as: UTF8.self).hasPrefix(#"{"text":"#))
    }
}
