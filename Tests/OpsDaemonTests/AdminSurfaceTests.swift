import CurlHTTP
import Foundation
import KinstaClient
import KinstaSimulator
import OpsCore
import OpsDaemon
import OpsProtocol
import OpsTestSupport
import Testing

/// The admin's surface over the real socket: Kinsta reads through the daemon, `/metrics`, and the follow stream's
/// resume-without-gap promise. The daemon runs in-process against the in-process simulator; `max_in_flight` 0
/// keeps submitted jobs queued, so the only Kinsta traffic is the test's own reads.
@Suite struct AdminSurfaceTests {
    func withDaemon(
        _ body: @escaping @Sendable (SocketAPITests.Running, KinstaSimulator) async throws -> Void
    )
        async throws
    {
        let simulator = KinstaSimulator(configuration: SimulatorConfiguration(apiKey: "k", seed: 5))
        try await withRunningSimulator(simulator) { base in
            let http = CurlHTTPClient()
            defer { http.shutdown() }
            try await InProcessDaemon.with(
                clock: ManualClock(),
                api: nil,
                configure: {
                    $0.kinsta = KinstaConfiguration(baseURL: base, apiKey: "k", requestTimeout: .seconds(5))
                    $0.companyID = simulator.configuration.companyID
                    $0.maxInFlight = 0
                },
                { daemon in
                    try await body(
                        SocketAPITests.Running(transport: .socket(path: daemon.socketPath, http: http)),
                        simulator
                    )
                }
            )
        }
    }

    @Test func kinstaReadsComeThroughTheDaemon() async throws {
        try await withDaemon { api, _ in
            let sites = try JSONDecoder().decode(
                JSONValue.self,
                from: try await api.send("GET", "/v1/kinsta/sites").body
            )
            guard case .array(let list)? = sites["company"]?["sites"], let first = list.first,
                let siteID = first["id"]?.stringValue
            else {
                Issue.record("no sites: \(sites)")
                return
            }
            let environments = try JSONDecoder().decode(
                JSONValue.self,
                from: try await api.send("GET", "/v1/kinsta/sites/\(siteID)/environments").body
            )
            guard case .array(let envs)? = environments["site"]?["environments"],
                let envID = envs.first?["id"]?.stringValue
            else {
                Issue.record("no environments")
                return
            }
            let backups = try await api.send("GET", "/v1/kinsta/environments/\(envID)/backups")
            #expect(backups.status == 200)
            #expect(try await api.send("GET", "/v1/kinsta/environments/\(envID)/downloadable-backups").status == 200)
            #expect(try await api.send("GET", "/v1/kinsta/sites/\(siteID)").status == 200)
            // Kinsta's 404 becomes the daemon's JSON error with Kinsta's message
            let missing = try await api.send("GET", "/v1/kinsta/sites/no-such-site")
            #expect(missing.status == 404)
            #expect(try api.error(missing).code == "kinsta_not_found")
            #expect(try api.error(missing).message.contains("Site not found"))
            // Path tricks never reach Kinsta
            let tricky = try await api.send("GET", "/v1/kinsta/environments/..%2F..%2Fsites/backups")
            #expect(tricky.status == 400)
        }
    }

    @Test func metricsAreValidPrometheusText() async throws {
        try await withDaemon { api, _ in
            // The key check at start is a read of its own (GET /validate): let it end first
            _ = try await Self.keyChecked(api)
            // The first submission with a region reads the company's regions (waiting for them)
            _ = try await api.send("POST", "/v1/jobs", body: SocketAPITests.plain)
            _ = try await api.send("GET", "/v1/kinsta/sites")
            _ = try await api.send("GET", "/v1/kinsta/sites/nope")
            let scrape = try await api.send("GET", "/metrics")
            #expect(scrape.status == 200)
            #expect(scrape.header("Content-Type")?.hasPrefix("text/plain") == true)
            let text = String(decoding: scrape.body, as: UTF8.self)
            // Every sample line is `name{labels} value` with a number
            var samples: [String: Double] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 2, "bad sample line: \(line)")
                let value = Double(parts.last ?? "")
                #expect(value != nil, "bad value: \(line)")
                samples[String(parts[0])] = value
            }
            #expect(samples[#"kinsta_opsd_jobs{state="queued"}"#] == 1)
            #expect(samples[#"kinsta_opsd_jobs{state="running"}"#] == 0)
            #expect(samples[#"kinsta_opsd_kinsta_requests_total{call="read",outcome="ok"}"#] == 3)
            #expect(samples[#"kinsta_opsd_kinsta_requests_total{call="read",outcome="not_found"}"#] == 1)
            // And health shows the last Kinsta answer
            let health = try JSONDecoder().decode(JSONValue.self, from: try await api.send("GET", "/v1/health").body)
            #expect(health["last_kinsta_answer"]?["summary"] == "read: not_found")
            // And the request budget, with what the four reads (validate, regions, the test's two) used of it
            #expect(health["request_budget"]?["per_minute"] == .integer(60))
            #expect(health["request_budget"]?["used_last_minute"] == .integer(4))
            #expect(health["disabled_webhook_endpoints"] == .array([]))
        }
    }

    @Test func companyUsersRegionsDomainsAndActivityComeThroughTheDaemon() async throws {
        try await withDaemon { api, _ in
            let decode = { (response: HTTPResponse) throws -> JSONValue in
                #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
                return try JSONDecoder().decode(JSONValue.self, from: response.body)
            }
            let users = try decode(try await api.send("GET", "/v1/kinsta/users"))
            guard case .array(let list)? = users["company"]?["users"], let first = list.first?["user"] else {
                Issue.record("no users: \(users)")
                return
            }
            #expect(first["id"]?.stringValue.flatMap(UUID.init(uuidString:)) != nil)
            #expect(first["email"]?.stringValue?.contains("@") == true)
            let regions = try decode(try await api.send("GET", "/v1/kinsta/regions"))
            guard case .array(let available)? = regions["company"]?["available_regions"] else {
                Issue.record("no regions: \(regions)")
                return
            }
            let names = available.compactMap { region in region["region"]?.stringValue }
            #expect(names.contains("us-central1"))
            // Another company's reads are Kinsta's 404
            let other = try await api.send("GET", "/v1/kinsta/users?company=other-company")
            #expect(other.status == 404)
            let sites = try decode(try await api.send("GET", "/v1/kinsta/sites"))
            let siteID = try #require(Self.first(sites["company"]?["sites"])?["id"]?.stringValue)
            let environments = try decode(try await api.send("GET", "/v1/kinsta/sites/\(siteID)/environments"))
            let envID = try #require(Self.first(environments["site"]?["environments"])?["id"]?.stringValue)
            let domains = try decode(try await api.send("GET", "/v1/kinsta/environments/\(envID)/domains"))
            guard case .array(let siteDomains)? = domains["environment"]?["site_domains"] else {
                Issue.record("no domains: \(domains)")
                return
            }
            #expect(!siteDomains.isEmpty)
            let activity = try decode(try await api.send("GET", "/v1/kinsta/activity-logs?site_id=\(siteID)&limit=5"))
            #expect(activity["company"]?["activity_logs"]?["items"] != nil)
            // A limit out of range, or a site ID that is no ID, never reaches Kinsta
            let tooMany = try await api.send("GET", "/v1/kinsta/activity-logs?limit=1000")
            #expect(tooMany.status == 400)
            #expect(try api.error(tooMany).field == "limit")
            let badSite = try await api.send("GET", "/v1/kinsta/activity-logs?site_id=a%2Fb")
            #expect(badSite.status == 400)
        }
    }

    @Test func aRegionTheCompanyDoesNotHaveIsRefusedAtTheSocket() async throws {
        try await withDaemon { api, _ in
            // The first submission with a region waits for the company's list; an unknown region is refused
            let mars = #"{"kind":"site.create_plain","params":{"display_name":"Mars","region":"mars-north1"}}"#
            let refused = try await api.send("POST", "/v1/jobs", body: mars)
            #expect(refused.status == 422)
            let error = try api.error(refused)
            #expect(error.code == "invalid_params")
            #expect(error.field == "region")
            #expect(error.message.contains("us-central1"))
            #expect(error.message.contains("kinsta-ops regions"))
            #expect(try await api.jobCount() == 0)
            // A known one is taken
            #expect(try await api.send("POST", "/v1/jobs", body: SocketAPITests.plain).status == 201)
            // And so is any region of a company the daemon has no list for (Kinsta decides)
            let elsewhere =
                #"{"kind":"site.create_plain","params":{"company":"c-2","display_name":"M","region":"mars-north1"}}"#
            #expect(try await api.send("POST", "/v1/jobs", body: elsewhere).status == 201)
        }
    }

    @Test func healthShowsTheAPIKeysExpiry() async throws {
        try await withDaemon { api, _ in
            let key = try await Self.keyChecked(api)
            // (The key here is "k", which the daemon masks out of every answer, the key's name too)
            #expect(key["name"]?.stringValue?.contains("sim") == true)
            #expect(key["status"] == "active")
            // The simulator's key expires 365 days after it started (by the wall clock; the daemon's is a manual
            // one that starts elsewhere): far off, so no warning
            guard case .integer(let days)? = key["days_left"] else {
                Issue.record("no days_left: \(key)")
                return
            }
            #expect(days > 14)
            #expect(key["expires_at"]?.stringValue != nil)
            #expect(key["warning"] == nil)
            #expect(key["last_error"] == nil)
        }
    }

    static func first(_ value: JSONValue?) -> JSONValue? {
        if case .array(let items)? = value { return items.first }
        return nil
    }

    /// Waits (by asking health, no sleep) until the daemon's key check at start ended; returns health's `api_key`.
    static func keyChecked(_ api: SocketAPITests.Running) async throws -> JSONValue {
        for _ in 0..<2000 {
            let health = try JSONDecoder().decode(JSONValue.self, from: try await api.send("GET", "/v1/health").body)
            if let key = health["api_key"], key != .null, key["checked_at"] != .null || key["last_error"] != nil {
                return key
            }
            await Task.yield()
        }
        Issue.record("the key check at start never ended")
        return .null
    }

    @Test func followStreamResumesWithoutGapOrDuplicate() async throws {
        try await withDaemon { api, _ in
            // Given one job and a follow stream that reads its first event, then drops
            _ = try await api.send("POST", "/v1/jobs", body: SocketAPITests.plain)
            var seen: [Int64] = []
            try await Self.follow(api, after: 0, until: { $0.count == 1 }, into: &seen)
            // When more events happen while no one listens
            for name in ["B", "C"] {
                let body = #"{"kind":"site.create_plain","params":{"display_name":"\#(name)","region":"us"}}"#
                _ = try await api.send("POST", "/v1/jobs", body: body)
            }
            // Then reconnecting with the last seq gets exactly what was missed, then new events live
            let last = try #require(seen.last)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var resumed: [Int64] = []
                    try await Self.follow(api, after: last, until: { $0.count == 3 }, into: &resumed)
                    #expect(resumed == [2, 3, 4])
                }
                // The fourth event is committed while the stream is open (at the latest after the catch-up)
                let body = #"{"kind":"site.create_plain","params":{"display_name":"D","region":"us"}}"#
                _ = try await api.send("POST", "/v1/jobs", body: body)
                try await group.waitForAll()
            }
            #expect(seen == [1])
        }
    }

    /// Reads `/v1/events?follow=1&after=` until `done` holds for the seqs seen, skipping heartbeats.
    static func follow(
        _ api: SocketAPITests.Running,
        after: Int64,
        until done: ([Int64]) -> Bool,
        into seen: inout [Int64]
    ) async throws {
        let stream = try await api.http.stream(
            HTTPRequest(
                url: "http://localhost/v1/events?follow=1&after=\(after)",
                timeout: .seconds(10),
                unixSocketPath: api.socket
            )
        )
        #expect(stream.header("Content-Length") == nil)
        var pending = Data()
        for try await chunk in stream.body {
            pending.append(chunk)
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = Data(pending[pending.startIndex..<newline])
                pending.removeSubrange(pending.startIndex...newline)
                guard !line.isEmpty else { continue }
                seen.append(try WireJSON.decoder().decode(EventView.self, from: line).seq)
            }
            if done(seen) { return }
        }
    }
}
