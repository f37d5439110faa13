import CurlHTTP
import Foundation
import KinstaSimulator
import Synchronization
import Testing

/// The simulator's own contract, over HTTP: auth, determinism, the redacted request log.
@Suite struct KinstaSimulatorTests {
    static let configuration = SimulatorConfiguration(apiKey: "k", seed: 9, seedSites: 2)

    static func post(_ http: CurlHTTPClient, _ url: String, _ json: String, key: String = "k") async throws -> HTTPResponse {
        try await http.execute(HTTPRequest(
            method: "POST", url: url, headers: [HTTPHeader("Authorization", "Bearer \(key)")], body: Data(json.utf8)))
    }

    static func createBody(_ name: String) -> String {
        #"{"company":"\#(configuration.companyID)","display_name":"\#(name)","region":"us","admin_email":"a@b.co","# +
            #""admin_password":"hunter2","admin_user":"u","site_title":"t","wp_language":"en_US"}"#
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
            let admin = try await http.execute(HTTPRequest(url: base.replacingOccurrences(of: "/v2", with: "/_sim/requests")))
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
