import CurlHTTP
import Foundation
import KinstaSimulator
import Synchronization
import Testing

/// What an operation changes shows in the reads once it succeeds (and not before).
@Suite struct EffectTests {
    static func environments(_ sim: SimHarness, _ site: String) async throws -> [[String: Any]] {
        try #require(
            (try await sim.get("/sites/\(site)/environments")["site"] as? [String: Any])?["environments"]
                as? [[String: Any]]
        )
    }

    static func environment(_ sim: SimHarness, _ site: String, _ id: String) async throws -> [String: Any] {
        try #require(try await environments(sim, site).first { $0["id"] as? String == id })
    }

    @Test func aManualBackupAppearsWithItsTagThenADeleteRemovesIt() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let backups = { () async throws -> [[String: Any]] in
                try #require(
                    (try await sim.get("/sites/environments/\(f.live)/backups")["environment"] as? [String: Any])?[
                        "backups"
                    ] as? [[String: Any]]
                )
            }
            let before = try await backups().count
            #expect(
                try await sim.call("POST", "/sites/environments/\(f.live)/manual-backups", #"{"tag":"job-7f3a"}"#)
                    .status == 202
            )
            #expect(try await backups().count == before)
            sim.advance()
            let tagged = try #require(try await backups().first { $0["note"] as? String == "job-7f3a" })
            #expect(tagged["type"] as? String == "manual")
            let id = try #require(tagged["id"] as? Int)
            #expect(try await sim.call("DELETE", "/sites/environments/backups/\(id)").status == 202)
            sim.advance()
            #expect(try await backups().contains { $0["id"] as? Int == id } == false)
            #expect(try await backups().count == before)
        }
    }

    @Test func anEnvironmentCreatedByDisplayNameThenDeleted() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let created = try await sim.call(
                "POST",
                "/sites/\(f.site)/environments/clone",
                #"{"display_name":"feature-x","is_premium":false,"source_env_id":"\#(f.live)"}"#
            )
            #expect(created.status == 202)
            #expect(try await Self.environments(sim, f.site).count == 2)
            // The same display name while the first runs is refused
            let again = try await sim.call(
                "POST",
                "/sites/\(f.site)/environments/plain",
                #"{"display_name":"feature-x","is_premium":false}"#
            )
            #expect(again.status == 400)
            sim.advance()
            let environment = try #require(
                try await Self.environments(sim, f.site).first { $0["display_name"] as? String == "feature-x" }
            )
            let id = try #require(environment["id"] as? String)
            #expect(environment["primaryDomain"] as? [String: Any] != nil)
            #expect((environment["primaryDomain"] as? [String: Any])?["id"] as? String != nil)
            #expect(try await sim.call("DELETE", "/sites/environments/\(id)").status == 202)
            sim.advance()
            #expect(try await Self.environments(sim, f.site).contains { $0["id"] as? String == id } == false)
            // The live environment itself cannot be deleted
            #expect(try await sim.call("DELETE", "/sites/environments/\(f.live)").status == 400)
        }
    }

    @Test func domainsAddChangePrimaryAndDelete() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let names = { () async throws -> [String] in
                let env = try await Self.environment(sim, f.site, f.live)
                return (env["domains"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            }
            #expect(
                try await sim.call("POST", "/sites/environments/\(f.live)/domains", #"{"domain_name":"shop.example"}"#)
                    .status == 202
            )
            sim.advance()
            #expect(try await names().contains("shop.example"))
            let siteDomains = try await sim.get("/sites/environments/\(f.live)/domains")
            #expect(((siteDomains["environment"] as? [String: Any])?["site_domains"] as? [[String: Any]])?.count == 3)
            // The primary may not be deleted; another may become primary
            let primary = try #require(
                (try await Self.environment(sim, f.site, f.live)["primaryDomain"] as? [String: Any])?["id"] as? String
            )
            #expect(
                try await sim.call(
                    "DELETE",
                    "/sites/environments/\(f.live)/domains",
                    #"{"domain_ids":["\#(primary)"]}"#
                ).status == 400
            )
            #expect(
                try await sim.call(
                    "PUT",
                    "/sites/environments/\(f.live)/change-primary-domain",
                    #"{"domain_id":"\#(f.secondaryDomain)","run_search_and_replace":false}"#
                ).status == 202
            )
            sim.advance()
            let now = try #require(
                (try await Self.environment(sim, f.site, f.live)["primaryDomain"] as? [String: Any])?["id"] as? String
            )
            #expect(now == f.secondaryDomain)
            #expect(
                try await sim.call(
                    "DELETE",
                    "/sites/environments/\(f.live)/domains",
                    #"{"domain_ids":["\#(primary)"]}"#
                ).status == 202
            )
            sim.advance()
            #expect(try await names().count == 2)
        }
    }

    @Test func dnsRecordsChange() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let records = { () async throws -> [[String: Any]] in
                try #require(
                    (try await sim.get("/domains/\(f.dnsDomain)/dns-records")["domain"] as? [String: Any])?[
                        "dns_records"
                    ] as? [[String: Any]]
                )
            }
            let before = try await records().count
            let body =
                #"{"type":"MX","name":"agency.example","ttl":3600,"resource_records":[{"value":"10 mx.example"}]}"#
            #expect(try await sim.call("POST", "/domains/\(f.dnsDomain)/dns-records", body).status == 202)
            sim.advance()
            #expect(try await records().count == before + 1)
            #expect(try await sim.call("POST", "/domains/\(f.dnsDomain)/dns-records", body).status == 400)
            #expect(
                try await sim.call(
                    "DELETE",
                    "/domains/\(f.dnsDomain)/dns-records",
                    #"{"type":"MX","name":"agency.example"}"#
                ).status == 202
            )
            sim.advance()
            #expect(try await records().count == before)
            let domains = try await sim.get("/domains?company=\(f.company)")
            #expect(
                ((domains["company"] as? [String: Any])?["domains"] as? [[String: Any]])?.first?["id"] as? String
                    == f.dnsDomain
            )
        }
    }

    @Test func settingsShowInTheEnvironment() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let calls: [(String, String, String)] = [
                (
                    "PUT", "/sites/tools/modify-php-version",
                    #"{"environment_id":"\#(f.live)","php_version":"8.3","is_opt_out_from_automatic_php_update":true}"#
                ),
                ("PUT", "/sites/edge-caching/status", #"{"environment_id":"\#(f.staging)","enabled":false}"#),
            ]
            for (method, path, body) in calls { #expect(try await sim.call(method, path, body).status == 202) }
            sim.advance()
            let calls2: [(String, String, String)] = [
                (
                    "PUT", "/sites/cdn/image-optimization",
                    #"{"environment_id":"\#(f.live)","image_optimization_type":"lossy"}"#
                ),
                (
                    "PUT", "/sites/environments/\(f.staging)/additional-sftp-accounts/toggle-status",
                    #"{"enabled":false}"#
                ),
            ]
            for (method, path, body) in calls2 { #expect(try await sim.call(method, path, body).status == 202) }
            sim.advance()
            #expect(
                try await sim.call(
                    "POST",
                    "/sites/environments/\(f.live)/change-webroot-subfolder",
                    #"{"web_root_subfolder":"/v2"}"#
                ).status == 202
            )
            sim.advance()
            #expect(
                try await sim.call(
                    "PUT",
                    "/sites/environments/\(f.live)/plugins",
                    #"{"name":"akismet","update_version":"5.3"}"#
                ).status == 202
            )
            sim.advance()
            let live = try await Self.environment(sim, f.site, f.live)
            let staging = try await Self.environment(sim, f.site, f.staging)
            #expect((live["container_info"] as? [String: Any])?["php_engine_version"] as? String == "php8.3")
            #expect(live["is_opt_out_from_automatic_php_update"] as? Bool == true)
            #expect(live["image_optimization_type"] as? String == "lossy")
            #expect((live["web_root"] as? String)?.hasSuffix("/public/v2") == true)
            #expect(staging["id_edge_cache"] is NSNull)
            #expect(live["id_edge_cache"] is String)
            #expect(staging["is_additional_sftp_accounts_enabled"] as? Bool == false)
            let plugins = try await sim.get("/sites/environments/\(f.live)/plugins")
            let data =
                ((plugins["environment"] as? [String: Any])?["container_info"] as? [String: Any])?["wp_plugins"]
                as? [String: Any]
            let akismet = try #require(
                (data?["data"] as? [[String: Any]])?.first { $0["name"] as? String == "akismet" }
            )
            #expect(akismet["version"] as? String == "5.3")
            #expect(akismet["update_version"] is NSNull)
        }
    }

    @Test func sftpAccountsAddedAndRemoved() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let accounts = { () async throws -> [[String: Any]] in
                try #require(
                    (try await sim.get("/sites/environments/\(f.live)/additional-sftp-accounts")["environment"]
                        as? [String: Any])?["additional_sftp_accounts"] as? [[String: Any]]
                )
            }
            #expect(try await accounts().count == 1)
            let add =
                #"{"username":"deployer2","password":"0123456789abcdefXY","root_directory":"/dir_1","permission":"write"}"#
            #expect(
                try await sim.call("POST", "/sites/environments/\(f.live)/additional-sftp-accounts", add).status == 200
            )
            sim.advance()
            let added = try #require(try await accounts().first { $0["username"] as? String == "deployer2" })
            #expect(added["root_directory"] as? String == "/dir_1")
            let id = try #require(added["id"] as? String)
            #expect(try await sim.call("DELETE", "/sites/environments/additional-sftp-accounts/\(id)").status == 202)
            sim.advance()
            #expect(try await accounts().count == 1)
        }
    }

    @Test func newSitesNeedACompanyRegionAndAFreeName() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let plain = { (name: String, region: String) in
                try await sim.call(
                    "POST",
                    "/sites/plain",
                    #"{"company":"\#(f.company)","display_name":"\#(name)","region":"\#(region)"}"#
                )
            }
            #expect(try await plain("EU", "europe-west1").status == 202)
            #expect(try await plain("Nowhere", "xx-none1").status == 400)
            let wrongCompany = try await sim.call(
                "POST",
                "/sites/plain",
                #"{"company":"other","display_name":"O","region":"us-central1"}"#
            )
            #expect(wrongCompany.status == 404)
            sim.advance()
            let sites = try #require(
                (try await sim.get("/sites?company=\(f.company)")["company"] as? [String: Any])?["sites"]
                    as? [[String: Any]]
            )
            #expect(sites.contains { $0["display_name"] as? String == "EU" })
        }
    }

    @Test func activityLogsShowOperationsAndFailures() async throws {
        try await SimHarness.run(failureRate: 1) { sim in
            let f = try await sim.fixture()
            #expect(
                try await sim.call("POST", "/sites/tools/clear-cache", #"{"environment_id":"\#(f.live)"}"#).status
                    == 202
            )
            sim.advance()
            let logs = try await sim.get("/company/\(f.company)/activity-logs")
            let page = try #require((logs["company"] as? [String: Any])?["activity_logs"] as? [String: Any])
            #expect(page["total"] as? Int == 1)
            let item = try #require((page["items"] as? [[String: Any]])?.first)
            #expect(item["has_failed"] as? Bool == true)
            #expect(item["is_done"] as? Bool == true)
            #expect((item["public_error"] as? String)?.contains("blocked by another process") == true)
            #expect(item["site_id"] as? String == f.site)
        }
    }
}

/// The "environment is blocked" refusal across a site and its environments.
@Suite struct BusyTests {
    @Test func aSiteAndItsEnvironmentsBlockEachOther() async throws {
        try await SimHarness.run(chaos: SimulatorChaos(refuseBlocked: true)) { sim in
            let f = try await sim.fixture()
            let clear = { (env: String) in
                try await sim.call("POST", "/sites/tools/clear-cache", #"{"environment_id":"\#(env)"}"#)
            }
            #expect(try await clear(f.live).status == 202)
            // The same environment, and the site as a whole, are busy; the site's other environment is not
            let second = try await clear(f.live)
            #expect(second.status == 400)
            #expect(
                second.json["message"] as? String
                    == "The environment is blocked by another process. Please try again a bit later."
            )
            #expect(
                try await sim.call("POST", "/sites/\(f.site)/reset-site", #"{"admin_password":"pw"}"#).status == 400
            )
            #expect(try await clear(f.staging).status == 202)
            // A push holds both of its environments
            sim.advance()
            let push = #"{"source_env_id":"\#(f.staging)","target_env_id":"\#(f.live)"}"#
            #expect(try await sim.call("PUT", "/sites/\(f.site)/environments", push).status == 202)
            #expect(try await clear(f.staging).status == 400)
            #expect(try await clear(f.live).status == 400)
            // A site operation holds every environment of the site, and no other site's
            sim.advance()
            #expect(
                try await sim.call("POST", "/sites/\(f.site)/reset-site", #"{"admin_password":"pw"}"#).status == 202
            )
            #expect(try await clear(f.staging).status == 400)
            let environments = try #require(
                ((try await sim.get("/sites/\(f.otherSite)/environments")["site"] as? [String: Any])?["environments"]
                    as? [[String: Any]])
            )
            let otherLive = try #require(environments.first?["id"] as? String)
            #expect(try await clear(otherLive).status == 202)
            sim.advance()
            #expect(try await clear(f.staging).status == 202)
        }
    }

    @Test func aBusyEnvironmentReadsAsBlocked() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let blocked = { () async throws -> Bool? in
                try await EffectTests.environment(sim, f.site, f.live)["is_blocked"] as? Bool
            }
            #expect(try await blocked() == false)
            #expect(
                try await sim.call("POST", "/sites/tools/restart-php", #"{"environment_id":"\#(f.live)"}"#).status
                    == 202
            )
            sim.advance(2.5)  // past the start-up window (at most 2 s), before the end (at least 3 s)
            #expect(try await blocked() == true)
            sim.advance()
            #expect(try await blocked() == false)
        }
    }
}

/// The seed state has what every kind needs, the same for the same seed.
@Suite struct SeedStateTests {
    @Test func everySeedSiteHasWhatEveryKindNeeds() async throws {
        try await SimHarness.run { sim in
            let state = try await sim.state()
            let sites = try #require(state["sites"] as? [[String: Any]])
            #expect(sites.count == 2)
            var backupIDs: Set<Int> = []
            for site in sites {
                let environments = try #require(site["environments"] as? [[String: Any]])
                #expect(environments.compactMap { $0["name"] as? String } == ["live", "staging"])
                for env in environments {
                    let backups = try #require(env["backups"] as? [[String: Any]])
                    #expect(backups.compactMap { $0["type"] as? String }.sorted() == ["daily", "daily", "manual"])
                    for backup in backups { backupIDs.insert(try #require(backup["id"] as? Int)) }
                    let downloadable = try #require(env["downloadable_backups"] as? [[String: Any]])
                    #expect(downloadable.count == 1)
                    #expect(UUID(uuidString: downloadable[0]["id"] as? String ?? "") != nil)
                    let domains = try #require(env["domains"] as? [[String: Any]])
                    #expect(domains.count == 2)
                    #expect(domains.allSatisfy { UUID(uuidString: $0["id"] as? String ?? "") != nil })
                    #expect(domains.contains { $0["id"] as? String == env["primary_domain_id"] as? String })
                    #expect((env["primaryDomain"] as? [String: Any])?["name"] is String)
                    #expect(UUID(uuidString: env["cdn_cache_id"] as? String ?? "") != nil)
                    #expect(UUID(uuidString: env["id_edge_cache"] as? String ?? "") != nil)
                    #expect((env["plugins"] as? [[String: Any]])?.count ?? 0 >= 2)
                    #expect((env["themes"] as? [[String: Any]])?.count ?? 0 >= 1)
                    #expect((env["sftp_accounts"] as? [[String: Any]])?.count == 1)
                }
            }
            #expect(backupIDs.count == 12)
            let users = try #require(state["users"] as? [[String: Any]])
            #expect(users.count == 2)
            #expect(users.allSatisfy { UUID(uuidString: $0["id"] as? String ?? "") != nil })
            let regions = (state["regions"] as? [[String: Any]] ?? []).compactMap { $0["region"] as? String }
            #expect(regions.count >= 3)
            #expect(regions.contains("us-central1") && regions.contains("europe-west1"))
            let dns = try #require((state["dns_domains"] as? [[String: Any]])?.first)
            #expect((dns["records"] as? [[String: Any]])?.count ?? 0 >= 2)
        }
    }

    @Test func theSameSeedGivesTheSameState() async throws {
        var states: [String] = []
        for _ in 0..<2 {
            let simulator = KinstaSimulator(
                configuration: SimulatorConfiguration(seed: 11),
                now: { SimHarness.start }
            )
            let http = CurlHTTPClient()
            defer { http.shutdown() }
            states.append(
                try await withRunningSimulator(simulator) { base in
                    String(
                        decoding: try await http.execute(
                            HTTPRequest(url: base.replacingOccurrences(of: "/v2", with: "/_sim/state"))
                        ).body,
                        as: UTF8.self
                    )
                }
            )
        }
        #expect(states[0] == states[1])
        #expect(states[0].contains("staging"))
    }

    @Test func readsCarryTheFieldsTheFileRequires() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let env = try await EffectTests.environment(sim, f.site, f.live)
            for field in [
                "id", "name", "display_name", "is_blocked", "id_edge_cache", "cdn_cache_id",
                "is_opt_out_from_automatic_php_update", "web_root", "image_optimization_type",
                "is_additional_sftp_accounts_enabled", "is_premium", "wordpress_version", "domains", "primaryDomain",
                "ssh_connection", "container_info",
            ] {
                #expect(env[field] != nil, "\(field)")
            }
            let domain = try #require((env["domains"] as? [[String: Any]])?.first)
            #expect(Set(domain.keys).isSuperset(of: ["id", "name", "site_id", "is_active", "type"]))
            let container = try #require(env["container_info"] as? [String: Any])
            #expect(UUID(uuidString: container["id"] as? String ?? "") != nil)
            let validate = try await sim.get("/validate")
            #expect(validate["company"] as? String == f.company)
            #expect(validate["status"] as? String == "active")
            #expect(validate["expires_at"] is String)
            let users = try await sim.get("/company/\(f.company)/users")
            let user = try #require(
                ((users["company"] as? [String: Any])?["users"] as? [[String: Any]])?.first?["user"] as? [String: Any]
            )
            #expect(user["id"] as? String == f.user)
            #expect(user["email"] is String && user["full_name"] is String)
            let regions = try await sim.get("/company/\(f.company)/available-regions")
            #expect(
                ((regions["company"] as? [String: Any])?["available_regions"] as? [[String: Any]])?.contains {
                    $0["region"] as? String == "europe-west1"
                } == true
            )
            let downloadable = try await sim.get("/sites/environments/\(f.live)/downloadable-backups")
            let first = ((downloadable["environment"] as? [String: Any])?["downloadable_backups"] as? [[String: Any]])?
                .first
            #expect(UUID(uuidString: first?["id"] as? String ?? "") != nil)
        }
    }

    @Test func anExpiredKeyIsRefused() async throws {
        let clock = SimHarness.Clock()
        let simulator = KinstaSimulator(
            configuration: SimulatorConfiguration(apiKey: "k", keyExpiresInDays: 14),
            now: { clock.now }
        )
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        try await withRunningSimulator(simulator) { base in
            let validate = {
                try await http.execute(
                    HTTPRequest(url: base + "/validate", headers: [HTTPHeader("Authorization", "Bearer k")])
                )
            }
            let answer = try await validate()
            #expect(answer.status == 200)
            let json = try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])
            #expect((json["expires_at"] as? String)?.hasPrefix("2027-01-29") == true)
            clock.date.withLock { $0 = $0.addingTimeInterval(15 * 86_400) }
            #expect(try await validate().status == 401)
        }
    }
}
