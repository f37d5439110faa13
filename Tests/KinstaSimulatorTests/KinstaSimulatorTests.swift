import CurlHTTP
import Foundation
import KinstaSimulator
import Synchronization
import Testing

/// The simulator's own contract, over HTTP: auth, determinism, the redacted request log.
@Suite struct KinstaSimulatorTests {
    static let configuration = SimulatorConfiguration(apiKey: "k", seed: 9, seedSites: 2)

    static func post(
        _ http: CurlHTTPClient,
        _ url: String,
        _ json: String,
        key: String = "k"
    ) async throws -> HTTPResponse {
        try await http.execute(
            HTTPRequest(
                method: "POST",
                url: url,
                headers: [HTTPHeader("Authorization", "Bearer \(key)")],
                body: Data(json.utf8)
            )
        )
    }

    static func createBody(_ name: String) -> String {
        #"{"company":"\#(configuration.companyID)","display_name":"\#(name)","region":"us","admin_email":"a@b.co","#
            + #""admin_password":"hunter2","admin_user":"u","site_title":"t","wp_language":"en_US","install_mode":"new"}"#
    }

    @Test func requiresTheBearerKey() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        try await withRunningSimulator(KinstaSimulator(configuration: Self.configuration)) { base in
            let refused = try await Self.post(http, base + "/sites", Self.createBody("A"), key: "wrong")
            #expect(refused.status == 401)
            let accepted = try await Self.post(http, base + "/sites", Self.createBody("A"))
            #expect(accepted.status == 202)
        }
    }

    @Test func sameSeedSameOperationsAndSites() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let fixed = Date(timeIntervalSince1970: 1_800_000_000)
        var runs: [[String]] = []
        for _ in 0..<2 {
            let simulator = KinstaSimulator(configuration: Self.configuration, now: { fixed })
            let ids = try await withRunningSimulator(simulator) { base in
                _ = try await Self.post(http, base + "/sites", Self.createBody("One"))
                _ = try await Self.post(http, base + "/sites", Self.createBody("Two"))
                return simulator.operations().map { "\($0.operationID) \($0.visibleAt) \($0.doneAt)" }
            }
            runs.append(ids)
        }
        #expect(runs[0].count == 2)
        #expect(runs[0] == runs[1])
    }

    @Test func requestLogRedactsThePassword() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let simulator = KinstaSimulator(configuration: Self.configuration)
        try await withRunningSimulator(simulator) { base in
            _ = try await Self.post(http, base + "/sites", Self.createBody("Secret"))
            let log = simulator.requestLog()
            #expect(log.count == 1)
            #expect(log[0].body?.contains("hunter2") == false)
            #expect(log[0].body?.contains("[redacted]") == true)
            let admin = try await http.execute(
                HTTPRequest(url: base.replacingOccurrences(of: "/v2", with: "/_sim/requests"))
            )
            #expect(!String(decoding: admin.body, as: UTF8.self).contains("hunter2"))
        }
    }

    @Test func aDisplayNameInUseIsRefused() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        try await withRunningSimulator(KinstaSimulator(configuration: Self.configuration)) { base in
            let first = try await Self.post(http, base + "/sites", Self.createBody("Twice")).status
            let second = try await Self.post(http, base + "/sites", Self.createBody("Twice")).status
            let seeded = try await Self.post(http, base + "/sites", Self.createBody("Seed Site 1")).status
            #expect([first, second, seeded] == [Int](arrayLiteral: 202, 400, 400))
        }
    }
}

/// The chaos flags: the real API's misbehaviour, on demand.
@Suite struct SimulatorChaosTests {
    static func simulator(_ chaos: SimulatorChaos, now: @escaping @Sendable () -> Date = { Date() }) -> KinstaSimulator
    {
        KinstaSimulator(
            configuration: SimulatorConfiguration(apiKey: "k", startupWindowMax: 0, seed: 9, chaos: chaos),
            now: now
        )
    }

    static func get(_ http: CurlHTTPClient, _ url: String) async throws -> HTTPResponse {
        try await http.execute(HTTPRequest(url: url, headers: [HTTPHeader("Authorization", "Bearer k")]))
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let sim = Self.simulator(SimulatorChaos(rateLimitPerMinute: 3, retryAfter: 7))
        try await withRunningSimulator(sim) { base in
            var statuses: [Int] = []
            var retryAfter: String?
            for _ in 0..<5 {
                let response = try await Self.get(http, base + "/sites?company=\(sim.configuration.companyID)")
                statuses.append(response.status)
                retryAfter = response.header("Retry-After") ?? retryAfter
            }
            #expect(statuses == [200, 200, 200, 429, 429])
            #expect(retryAfter == "7")
        }
    }

    @Test func serverErrorsAndGarbageBodies() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let broken = Self.simulator(SimulatorChaos(serverErrorRate: 1))
        try await withRunningSimulator(broken) { base in
            let response = try await Self.get(http, base + "/sites?company=\(broken.configuration.companyID)")
            #expect([502, 503].contains(response.status))
            #expect(String(decoding: response.body, as: UTF8.self).hasPrefix("<html>"))
        }
        let garbled = Self.simulator(SimulatorChaos(garbageRate: 1))
        try await withRunningSimulator(garbled) { base in
            let response = try await Self.get(http, base + "/sites?company=\(garbled.configuration.companyID)")
            #expect(response.status == 200)
            #expect((try? JSONSerialization.jsonObject(with: response.body)) == nil)
            // A write the page hid still started its operation, and the log says which: a checker counts it taken.
            let body = #"{"company":"\#(garbled.configuration.companyID)","display_name":"G","region":"us"}"#
            let hidden = try await KinstaSimulatorTests.post(http, base + "/sites/plain", body)
            #expect(hidden.status == 200)
            let started = try #require(garbled.operations().first?.operationID)
            #expect(garbled.requestLog().last?.operationID == started)
        }
    }

    @Test func runningOperationsAnswerTransient500sAndLate404s() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let sim = Self.simulator(SimulatorChaos(transient500Rate: 0.5, late404Rate: 0.5), now: { time.withLock { $0 } })
        try await withRunningSimulator(sim) { base in
            let body = #"{"company":"\#(sim.configuration.companyID)","display_name":"C","region":"us"}"#
            let submit = try await http.execute(
                HTTPRequest(
                    method: "POST",
                    url: base + "/sites/plain",
                    headers: [HTTPHeader("Authorization", "Bearer k")],
                    body: Data(body.utf8)
                )
            )
            let id = try #require(
                (try JSONSerialization.jsonObject(with: submit.body) as? [String: Any])?["operation_id"] as? String
            )
            time.withLock { $0 = $0.addingTimeInterval(1) }
            var seen: Set<Int> = []
            for _ in 0..<20 { seen.insert(try await Self.get(http, base + "/operations/\(id)").status) }
            // While it runs, only chaos answers: 500 and 404 (never a 200 before it is done)
            #expect(seen == [500, 404])
            time.withLock { $0 = $0.addingTimeInterval(10_000) }
            #expect(try await Self.get(http, base + "/operations/\(id)").status == 200)
        }
    }

    @Test func workOnABusyTargetIsRefusedAsBlocked() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let sim = Self.simulator(
            SimulatorChaos(refuseBlocked: true),
            now: { Date(timeIntervalSince1970: 1_800_000_000) }
        )
        try await withRunningSimulator(sim) { base in
            let state =
                try JSONSerialization.jsonObject(
                    with: try await http.execute(
                        HTTPRequest(url: base.replacingOccurrences(of: "/v2", with: "/_sim/state"))
                    ).body
                )
                as? [String: Any]
            let site = try #require((state?["sites"] as? [[String: Any]])?.first?["id"] as? String)
            let delete = {
                try await http.execute(
                    HTTPRequest(
                        method: "DELETE",
                        url: base + "/sites/\(site)",
                        headers: [HTTPHeader("Authorization", "Bearer k")]
                    )
                )
            }
            #expect(try await delete().status == 202)
            let second = try await delete()
            #expect(second.status == 400)
            #expect(String(decoding: second.body, as: UTF8.self).contains("blocked"))
        }
    }

    @Test func blockedRateRefusesIdleTargetsToo() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let sim = Self.simulator(
            SimulatorChaos(refuseBlocked: true, blockedRate: 1),
            now: { Date(timeIntervalSince1970: 1_800_000_000) }
        )
        try await withRunningSimulator(sim) { base in
            let state =
                try JSONSerialization.jsonObject(
                    with: try await http.execute(
                        HTTPRequest(url: base.replacingOccurrences(of: "/v2", with: "/_sim/state"))
                    ).body
                )
                as? [String: Any]
            let site = try #require((state?["sites"] as? [[String: Any]])?.first?["id"] as? String)
            // Nothing runs on the site, yet someone else holds it
            let refused = try await http.execute(
                HTTPRequest(
                    method: "DELETE",
                    url: base + "/sites/\(site)",
                    headers: [HTTPHeader("Authorization", "Bearer k")]
                )
            )
            #expect(refused.status == 400)
            #expect(String(decoding: refused.body, as: UTF8.self).contains("blocked by another process"))
        }
    }
}
