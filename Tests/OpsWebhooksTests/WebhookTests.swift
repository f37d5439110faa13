import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpsCore
import OpsWebhooks
import Synchronization
import Testing

/// Signing, bodies, the schedule and the answer mapping; deliveries to a live receiver checked by the Standard
/// Webhooks reference verifier (the PyPI package `standardwebhooks`, which `.ci/run` installs).
@Suite struct WebhookTests {
    static let secret = try! WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

    @Test func signatureMatchesTheSpecificationExample() {
        let body = Data(#"{"test": 2432232314}"#.utf8)
        let signature = StandardWebhooks.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: body,
            secret: Self.secret
        )
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(
            StandardWebhooks.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
                timestamp: 1_614_265_330,
                body: body,
                signatureHeader: "v1,bogus " + signature,
                secret: Self.secret,
                now: 1_614_265_330
            )
        )
        #expect(
            !StandardWebhooks.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
                timestamp: 1_614_265_330,
                body: Data(#"{"test": 2432232315}"#.utf8),
                signatureHeader: signature,
                secret: Self.secret,
                now: 1_614_265_330
            )
        )
        #expect(
            !StandardWebhooks.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
                timestamp: 1_614_265_330,
                body: body,
                signatureHeader: signature,
                secret: Self.secret,
                now: 1_614_265_330 + 301
            )
        )
        let other = try! WebhookSecret("whsec_" + Data(repeating: 7, count: 24).base64EncodedString())
        #expect(
            !StandardWebhooks.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
                timestamp: 1_614_265_330,
                body: body,
                signatureHeader: signature,
                secret: other,
                now: 1_614_265_330
            )
        )
        #expect("\(Self.secret)" == "whsec_[redacted]")
    }

    static func event(to: String = "succeeded", message: String? = "Kinsta finished the operation") -> WebhookEvent {
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        return WebhookEvent(
            seq: 42,
            at: created.addingTimeInterval(192),
            from: "running",
            to: to,
            attempt: 1,
            operationID: "sites:add-1234",
            message: message,
            job: JobSummary(
                id: 7,
                kind: "site.create",
                state: to,
                params: ["display_name": "Client A", "region": "us-central1", "admin_password": "hunter2"],
                operationID: "sites:add-1234",
                attempt: 1,
                createdAt: created,
                finishedAt: created.addingTimeInterval(192),
                lastError: to == "failed" ? "Kinsta reports the operation failed: disk full" : nil,
                result: nil
            )
        )
    }

    @Test func standardBodyHasTheDocumentedShapeAndNoSecret() throws {
        let body = WebhookPayload.standard(Self.event())
        let json = try JSONDecoder().decode(JSONValue.self, from: body)
        #expect(json["type"] == "job.succeeded")
        #expect(
            json["timestamp"] == "2026-11-23T01:03:12.000Z" || json["timestamp"]?.stringValue?.hasSuffix("Z") == true
        )
        #expect(json["data"]?["job"]?["id"] == .integer(7))
        #expect(json["data"]?["event"]?["seq"] == .integer(42))
        #expect(json["data"]?["event"]?["from"] == "running")
        #expect(json["data"]?["job"]?["params"]?["admin_password"] == nil)
        #expect(!String(decoding: body, as: UTF8.self).contains("hunter2"))
        // A huge message is cut to keep the body under 20 kB
        let huge = WebhookPayload.standard(Self.event(message: String(repeating: "x", count: 100_000)))
        #expect(huge.count < 20_000)
        #expect(try JSONDecoder().decode(JSONValue.self, from: huge)["type"] == "job.succeeded")
    }

    @Test func slackTextSnapshot() throws {
        let body = try JSONDecoder().decode([String: String].self, from: WebhookPayload.slack(Self.event()))
        #expect(body["text"] == "✅ site.create *Client A* succeeded after 3m 12s (job 7, operation `sites:add-1234`)")
        let failed = try JSONDecoder().decode(
            [String: String].self,
            from: WebhookPayload.slack(Self.event(to: "failed"))
        )
        #expect(
            failed["text"] == "❌ site.create *Client A* failed after 3m 12s (job 7, operation `sites:add-1234`)"
                + "\n> Kinsta reports the operation failed: disk full"
        )
    }

    @Test(
        arguments: [
            (200, nil, DeliveryOutcome.delivered(status: 200)), (204, nil, .delivered(status: 204)),
            (410, nil, .disableEndpoint(reason: "the receiver answered 410 Gone")),
            (429, "30", .retry(status: 429, reason: "HTTP 429", retryAfter: 30)),
            (500, nil, .retry(status: 500, reason: "HTTP 500", retryAfter: nil)),
            (503, "soon", .retry(status: 503, reason: "HTTP 503", retryAfter: nil)),
            (404, nil, .retry(status: 404, reason: "HTTP 404", retryAfter: nil)),
            (301, nil, .retry(status: 301, reason: "HTTP 301 (redirects are not followed)", retryAfter: nil)),
        ] as [(Int, String?, DeliveryOutcome)]
    )
    func answersMapToOutcomes(status: Int, retryAfter: String?, expected: DeliveryOutcome) {
        #expect(DeliveryClassifier.classify(status: status, retryAfterHeader: retryAfter) == expected)
    }

    @Test func scheduleIsTheDocumentedOneWithJitter() {
        var rng = SplitMix64(seed: 9)
        let exact = DeliverySchedule(delays: DeliverySchedule.standard.delays, jitter: 0)
        #expect(
            (1...7).map { exact.delay(afterFailedAttempt: $0, retryAfter: nil, using: &rng) }
                == [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
        )
        #expect(exact.delay(afterFailedAttempt: 8, retryAfter: nil, using: &rng) == nil)
        for attempt in 1...7 {
            for _ in 0..<200 {
                let nominal = DeliverySchedule.standard.delays[attempt - 1]
                let drawn = DeliverySchedule.standard.delay(afterFailedAttempt: attempt, retryAfter: nil, using: &rng)!
                #expect(drawn >= nominal * 0.8 && drawn <= nominal * 1.2)
            }
        }
        // A longer Retry-After wins, up to a day
        #expect(exact.delay(afterFailedAttempt: 1, retryAfter: 120, using: &rng) == 120)
        #expect(exact.delay(afterFailedAttempt: 1, retryAfter: 1_000_000, using: &rng) == 86_400)
    }

    @Test func endpointsAreValidated() throws {
        #expect(throws: WebhookConfigError.self) { _ = try WebhookSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") }
        #expect(throws: WebhookConfigError.self) { _ = try WebhookSecret("whsec_***") }
        #expect(throws: WebhookConfigError.self) { _ = try WebhookSecret("whsec_c2hvcnQ=") }
        #expect(throws: WebhookConfigError.self) {
            _ = try WebhookEndpoint(name: "a", url: "ftp://x", secret: Self.secret, events: nil, format: .standard)
        }
        #expect(throws: WebhookConfigError.self) {
            _ = try WebhookEndpoint(name: "a", url: "https://x.example", secret: nil, events: nil, format: .standard)
        }
        #expect(throws: WebhookConfigError.self) {
            _ = try WebhookEndpoint(
                name: "a",
                url: "https://x.example",
                secret: Self.secret,
                events: nil,
                format: .standard,
                headers: ["X-Evil": "a\r\nInjected: 1"]
            )
        }
        #expect(throws: WebhookConfigError.self) { _ = try WebhookEndpoint.parseEvents(["job.exploded"]) }
        let parsed = try WebhookEndpoint.parseEvents(["job.failed", "succeeded"])
        #expect(parsed.states == [.failed, .succeeded] && !parsed.plans && !parsed.schedules)
        #expect(
            try WebhookEndpoint.parseEvents(["plan.finished", "schedule.skipped"])
                == .init(states: [], plans: true, schedules: true)
        )
        let slack = try WebhookEndpoint(
            name: "ops-slack",
            url: "https://hooks.slack.invalid/T/B/x",
            secret: nil,
            events: [.failed],
            format: .slack
        )
        #expect(slack.wants(.failed))
        #expect(!slack.wants(.running))
    }

    /// A receiver that records what it gets and answers what the test says.
    final class Receiver: Sendable {
        struct Received: Sendable {
            var headers: [String: String]
            var body: Data
        }

        let received = Mutex<[Received]>([])
        let answer = Mutex<Int>(200)

        var router: Router<BasicRequestContext> {
            let router = Router()
            router.post("hook") { request, _ -> Response in
                var request = request
                let body = try await request.collectBody(upTo: 1 << 20)
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }
                self.received.withLock { $0.append(Received(headers: headers, body: Data(body.readableBytesView))) }
                return Response(status: .init(code: self.answer.withLock { $0 }))
            }
            router.post("slow") { _, _ -> Response in
                try await Task.sleep(for: .seconds(2))
                return Response(status: .ok)
            }
            router.post("moved") { _, _ -> Response in Response(status: .found, headers: [.location: "/hook"]) }
            return router
        }

        func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
            let (started, continuation) = AsyncStream<Int>.makeStream()
            var logger = Logger(label: "receiver")
            logger.logLevel = .critical
            let app = Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
                logger: logger
            )
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await app.run()
                    return nil
                }
                var ports = started.makeAsyncIterator()
                let port = await ports.next() ?? 0
                let result = try await body("http://127.0.0.1:\(port)")
                group.cancelAll()
                return result
            }
        }
    }

    @Test func realDeliveriesVerifyWithTheReferenceLibrary() async throws {
        let receiver = Receiver()
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        try await receiver.run { base in
            let endpoint = try WebhookEndpoint(
                name: "std",
                url: base + "/hook",
                secret: Self.secret,
                events: nil,
                format: .standard,
                headers: ["X-Team": "ops"]
            )
            let sender = HTTPWebhookSender(http: http)
            for (index, state) in ["accepted", "succeeded", "failed"].enumerated() {
                let body = WebhookPayload.standard(Self.event(to: state))
                let outcome = await sender.deliver(PreparedDelivery(id: "msg_\(index)_std", body: body), to: endpoint)
                #expect(outcome == .delivered(status: 200))
            }
        }
        let deliveries = receiver.received.withLock { $0 }
        #expect(deliveries.count == 3)
        #expect(deliveries.allSatisfy { $0.headers["x-team"] == "ops" && $0.headers["webhook-id"] != nil })
        for delivery in deliveries {
            #expect(try Self.referenceVerifies(delivery.body, delivery.headers))
            // And the reference verifier refuses the same delivery with one byte changed
            var tampered = delivery.body
            tampered[tampered.startIndex] = UInt8(ascii: "[")
            #expect(try !Self.referenceVerifies(tampered, delivery.headers))
        }
    }

    /// Runs the Standard Webhooks reference verifier (Python) on a captured delivery.
    static func referenceVerifies(_ body: Data, _ headers: [String: String]) throws -> Bool {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body.write(to: directory.appendingPathComponent("body"))
        let lowered = Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value) })
        try JSONEncoder().encode(lowered).write(to: directory.appendingPathComponent("headers.json"))
        let script = """
            import json, sys
            from standardwebhooks.webhooks import Webhook
            body = open(sys.argv[1] + '/body', 'rb').read()
            headers = json.load(open(sys.argv[1] + '/headers.json'))
            try:
                Webhook(sys.argv[2]).verify(body, headers)
            except Exception as error:
                print('refused:', error)
                sys.exit(1)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [projectPython(), "-c", script, directory.path, Self.secret.text]
        // The expected refusals (a tampered body) would print their reason among the test results.
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationReason == .exit, [0, 1].contains(process.terminationStatus) else {
            throw VerifierMissing()
        }
        return process.terminationStatus == 0
    }

    struct VerifierMissing: Error, CustomStringConvertible {
        var description: String {
            "python3 with the standardwebhooks package is needed: scripts/install-deps.sh installs it into .build/python"
        }
    }

    @Test func senderMapsReceiverTrouble() async throws {
        let receiver = Receiver()
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        try await receiver.run { base in
            func endpoint(_ path: String) throws -> WebhookEndpoint {
                try WebhookEndpoint(name: "e", url: base + path, secret: Self.secret, events: nil, format: .standard)
            }
            let delivery = PreparedDelivery(id: "msg_1_e", body: Data("{}".utf8))
            let fast = HTTPWebhookSender(http: http, timeout: .milliseconds(300))
            guard case .retry(nil, _, _) = await fast.deliver(delivery, to: try endpoint("/slow")) else {
                Issue.record("a receiver past the deadline must be retried")
                return
            }
            // The other answers come at once; a roomy deadline keeps a loaded machine from turning them into timeouts.
            let sender = HTTPWebhookSender(http: http, timeout: .seconds(10))
            #expect(
                await sender.deliver(delivery, to: try endpoint("/moved"))
                    == .retry(status: 302, reason: "HTTP 302 (redirects are not followed)", retryAfter: nil)
            )
            receiver.answer.withLock { $0 = 410 }
            guard case .disableEndpoint = await sender.deliver(delivery, to: try endpoint("/hook")) else {
                Issue.record("410 must disable the endpoint")
                return
            }
            let refused = try WebhookEndpoint(
                name: "e",
                url: "http://127.0.0.1:1/hook",
                secret: Self.secret,
                events: nil,
                format: .standard
            )
            guard case .retry(nil, _, _) = await sender.deliver(delivery, to: refused) else {
                Issue.record("a refused connection must be retried")
                return
            }
        }
    }
}

/// The project's Python test environment (`.build/python`, made by `scripts/install-deps.sh` with the packages the
/// tests use) when it exists, else `python3` on the PATH.
func projectPython(file: String = #filePath) -> String {
    let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let venv = root.appendingPathComponent(".build/python/bin/python3").path
    return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
}
