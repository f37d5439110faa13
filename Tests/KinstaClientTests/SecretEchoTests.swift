import CurlHTTP
import Foundation
import KinstaClient
import KinstaSimulator
import Logging
import OpsCore
import Testing

/// Against a Kinsta that echoes every request (its Authorization header and body) in its answers, nothing the
/// client hands on carries the API key or a job's password.
@Suite struct SecretEchoTests {
    static let key = "echo-test-key-9f8e"
    static let password = "W0rdpress\"pass/é"

    func withEchoingAPI(
        _ body: @escaping @Sendable (HTTPKinstaAPI, SecretRegistry, SimTime) async throws -> Void
    )
        async throws
    {
        let time = SimTime()
        var configuration = SimulatorConfiguration(
            apiKey: Self.key,
            startupWindowMax: 0,
            durationScale: 1,
            failureRate: 1,
            seed: 3,
            seedSites: 2
        )
        configuration.chaos.echoSecrets = true
        let simulator = KinstaSimulator(configuration: configuration, now: { time.now })
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let registry = SecretRegistry(fixed: [Self.key])
        try await withRunningSimulator(simulator) { base in
            let api = HTTPKinstaAPI(
                configuration: KinstaConfiguration(baseURL: base + "/", apiKey: Self.key, requestTimeout: .seconds(5)),
                http: http,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                secrets: registry
            )
            try await body(api, registry, time)
        }
    }

    static func createCall(_ name: String, company: String = SimulatorConfiguration().companyID) throws -> KinstaCall {
        try ValidatedParams(
            kind: .siteCreate,
            raw: [
                "display_name": .string(name), "region": "us-central1", "admin_email": "a@example.com",
                "admin_password": .string(password), "admin_user": "admin", "site_title": "T",
            ],
            defaultCompany: company
        ).submitCall(job: 1, attempt: 1)
    }

    func leaks(_ text: String) -> Bool {
        text.contains(Self.key) || text.contains("W0rdpress")
    }

    @Test func refusalsOperationsAndReadsCarryNoSecret() async throws {
        try await withEchoingAPI { api, registry, time in
            registry.hold(job: 1, [Self.password])
            // A refusal (unknown company) echoes the header and the body in its message
            let refused = await api.submit(try Self.createCall("A", company: "no-such-company"))
            guard case .rejected(_, let message) = refused else {
                Issue.record("not a refusal: \(refused)")
                return
            }
            #expect(message.contains("[redacted]"))
            #expect(!leaks(message))
            // An operation's answers echo the submit it came from; this one fails, so its message is kept
            guard case .accepted(let id) = await api.submit(try Self.createCall("B")) else {
                Issue.record("not accepted")
                return
            }
            time.advance(10_000)
            let polled = await api.operationStatus(id)
            guard case .failed(let failure) = polled else {
                Issue.record("not failed: \(polled)")
                return
            }
            #expect(!leaks(failure))
            // Once the job ended (its secrets released), the member's name still masks an echoed password
            registry.release(job: 1)
            let again = await api.operationStatus(id)
            #expect(!leaks("\(again)"))
            // Read-through answers
            let read = await api.read("/sites?company=" + SimulatorConfiguration().companyID)
            guard case .ok(let body) = read else {
                Issue.record("read failed: \(read)")
                return
            }
            #expect(!leaks("\(body)"))
            #expect("\(body)".contains("[redacted]"))
        }
    }
}
