import CurlHTTP
import Foundation
import KinstaSimulator
import Synchronization
import Testing

/// A simulator on a hand-driven clock, and the calls tests make to it.
struct SimHarness: Sendable {
    let simulator: KinstaSimulator
    let base: String
    let http: CurlHTTPClient

    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func run(
        chaos: SimulatorChaos = SimulatorChaos(),
        failureRate: Double = 0,
        _ body: @escaping @Sendable (SimHarness) async throws -> Void
    ) async throws {
        let clock = Clock()
        let simulator = KinstaSimulator(
            configuration: SimulatorConfiguration(
                apiKey: "k",
                startupWindowMax: 2,
                failureRate: failureRate,
                seed: 7,
                chaos: chaos
            ),
            now: { clock.now }
        )
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        try await withRunningSimulator(simulator) { base in
            try await body(SimHarness(simulator: simulator, base: base, http: http, clock: clock))
        }
    }

    final class Clock: Sendable {
        let date = Mutex(SimHarness.start)
        var now: Date { date.withLock { $0 } }
    }

    let clock: Clock

    init(simulator: KinstaSimulator, base: String, http: CurlHTTPClient, clock: Clock) {
        self.simulator = simulator
        self.base = base
        self.http = http
        self.clock = clock
    }

    /// Moves the simulator's clock on (every operation of `--duration-scale 1` ends within an hour).
    func advance(_ seconds: Double = 3600) { clock.date.withLock { $0 = $0.addingTimeInterval(seconds) } }

    func call(
        _ method: String,
        _ path: String,
        _ body: String? = nil
    ) async throws -> (status: Int, json: [String: Any]) {
        let response = try await http.execute(
            HTTPRequest(
                method: method,
                url: base + path,
                headers: [HTTPHeader("Authorization", "Bearer k"), HTTPHeader("Content-Type", "application/json")],
                body: body.map { Data($0.utf8) }
            )
        )
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        return (response.status, json)
    }

    func get(_ path: String) async throws -> [String: Any] { try await call("GET", path).json }

    func state() async throws -> [String: Any] {
        let response = try await http.execute(
            HTTPRequest(url: base.replacingOccurrences(of: "/v2", with: "/_sim/state"))
        )
        return try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
    }

    /// The ids every kind needs, from `/_sim/state`.
    func fixture() async throws -> SimFixture {
        let state = try await state()
        let sites = try #require(state["sites"] as? [[String: Any]])
        let site = try #require(sites.first)
        let environments = try #require(site["environments"] as? [[String: Any]])
        let live = try #require(environments.first { $0["name"] as? String == "live" })
        let staging = try #require(environments.first { $0["name"] as? String == "staging" })
        let domains = try #require(live["domains"] as? [[String: Any]])
        let primary = try #require(live["primary_domain_id"] as? String)
        let other = try #require(domains.first { $0["id"] as? String != primary }?["id"] as? String)
        let backups = try #require(live["backups"] as? [[String: Any]])
        let users = try #require(state["users"] as? [[String: Any]])
        let dns = try #require((state["dns_domains"] as? [[String: Any]])?.first)
        let sftp = try #require((live["sftp_accounts"] as? [[String: Any]])?.first)
        return SimFixture(
            company: try #require(state["company_id"] as? String),
            site: try #require(site["id"] as? String),
            otherSite: try #require(sites.last?["id"] as? String),
            live: try #require(live["id"] as? String),
            staging: try #require(staging["id"] as? String),
            backup: try #require(backups.first?["id"] as? Int),
            user: try #require(users.first?["id"] as? String),
            dnsDomain: try #require(dns["id"] as? String),
            dnsRecordName: try #require((dns["records"] as? [[String: Any]])?.first?["name"] as? String),
            secondaryDomain: other,
            cdnCache: try #require(live["cdn_cache_id"] as? String),
            sftpAccount: try #require(sftp["id"] as? String)
        )
    }
}

struct SimFixture: Sendable {
    var company, site, otherSite, live, staging: String
    var backup: Int
    var user, dnsDomain, dnsRecordName, secondaryDomain, cdnCache, sftpAccount: String
}

/// One valid call per write endpoint: kind, method, path, body, the status and `operation_id` prefix it must answer.
struct WriteCase: Sendable, CustomTestStringConvertible {
    var kind: String
    var method: String
    var path: String
    var body: String?
    var status: Int
    var prefix: String
    var testDescription: String { kind }

    static func all(_ f: SimFixture) -> [WriteCase] {
        let env = #"{"environment_id":"\#(f.live)"}"#
        return [
            WriteCase(
                kind: "site.create",
                method: "POST",
                path: "/sites",
                body:
                    #"{"company":"\#(f.company)","display_name":"New WP","region":"us-central1","install_mode":"new","#
                    + #""admin_email":"a@example.com","admin_password":"pw-secret","admin_user":"admin","#
                    + #""site_title":"T","wp_language":"en_US","woocommerce":false}"#,
                status: 202,
                prefix: "sites:add-"
            ),
            WriteCase(
                kind: "site.create_plain",
                method: "POST",
                path: "/sites/plain",
                body: #"{"company":"\#(f.company)","display_name":"New Plain","region":"europe-west1"}"#,
                status: 202,
                prefix: "sites:add-plain-"
            ),
            WriteCase(
                kind: "site.clone",
                method: "POST",
                path: "/sites/clone",
                body: #"{"company":"\#(f.company)","display_name":"Clone","source_env_id":"\#(f.live)"}"#,
                status: 202,
                prefix: "site:clone-"
            ),
            WriteCase(
                kind: "site.delete",
                method: "DELETE",
                path: "/sites/\(f.otherSite)",
                status: 202,
                prefix: "sites:delete-"
            ),
            WriteCase(
                kind: "site.reset",
                method: "POST",
                path: "/sites/\(f.site)/reset-site",
                body: #"{"admin_password":"pw-secret"}"#,
                status: 202,
                prefix: "sites:reset-site-"
            ),
            WriteCase(
                kind: "site.set_php_allocation",
                method: "POST",
                path: "/sites/\(f.site)/change-site-php-allocation",
                body: #"{"thread_count":4,"thread_memory":512}"#,
                status: 202,
                prefix: "sites:change-site-php-allocation-"
            ),
            WriteCase(
                kind: "environment.create",
                method: "POST",
                path: "/sites/\(f.site)/environments",
                body: #"{"display_name":"dev","site_title":"Dev","is_premium":false,"admin_email":"a@example.com","#
                    + #""admin_password":"pw-secret","admin_user":"admin","wp_language":"en_US"}"#,
                status: 202,
                prefix: "environment:add-"
            ),
            WriteCase(
                kind: "environment.create_plain",
                method: "POST",
                path: "/sites/\(f.site)/environments/plain",
                body: #"{"display_name":"plain-dev","is_premium":false}"#,
                status: 202,
                prefix: "environment:clone-"
            ),
            WriteCase(
                kind: "environment.clone",
                method: "POST",
                path: "/sites/\(f.site)/environments/clone",
                body: #"{"display_name":"clone-dev","is_premium":true,"source_env_id":"\#(f.live)"}"#,
                status: 202,
                prefix: "environment:clone-"
            ),
            WriteCase(
                kind: "environment.push",
                method: "PUT",
                path: "/sites/\(f.site)/environments",
                body: #"{"source_env_id":"\#(f.staging)","target_env_id":"\#(f.live)","push_db":true,"#
                    + #""push_files_option":"SPECIFIC_FILES","file_list":["wp-content/themes"]}"#,
                status: 202,
                prefix: "environments:push-"
            ),
            WriteCase(
                kind: "environment.delete",
                method: "DELETE",
                path: "/sites/environments/\(f.staging)",
                status: 202,
                prefix: "environments:delete-"
            ),
            WriteCase(
                kind: "environment.set_php_allocation",
                method: "POST",
                path: "/sites/environments/\(f.live)/change-environment-php-allocation",
                body: #"{"thread_count":2,"thread_memory":256}"#,
                status: 202,
                prefix: "environments:change-environment-php-allocation-"
            ),
            WriteCase(
                kind: "environment.set_webroot_subfolder",
                method: "POST",
                path: "/sites/environments/\(f.live)/change-webroot-subfolder",
                body: #"{"web_root_subfolder":"/release_v1","clear_all_cache":true}"#,
                status: 202,
                prefix: "sites:change-webroot-subfolder-"
            ),
            WriteCase(
                kind: "backup.restore",
                method: "POST",
                path: "/sites/environments/\(f.live)/backups/restore",
                body: #"{"backup_id":\#(f.backup),"notified_user_id":"\#(f.user)"}"#,
                status: 202,
                prefix: "backups:restore-"
            ),
            WriteCase(
                kind: "backup.create",
                method: "POST",
                path: "/sites/environments/\(f.live)/manual-backups",
                body: #"{"tag":"job-42"}"#,
                status: 202,
                prefix: "backups:add-manual-"
            ),
            WriteCase(
                kind: "backup.delete",
                method: "DELETE",
                path: "/sites/environments/backups/\(f.backup)",
                status: 202,
                prefix: "backups:remove-"
            ),
            WriteCase(
                kind: "cache.clear",
                method: "POST",
                path: "/sites/tools/clear-cache",
                body: env,
                status: 202,
                prefix: "cache:clear-"
            ),
            WriteCase(
                kind: "php.restart",
                method: "POST",
                path: "/sites/tools/restart-php",
                body: env,
                status: 202,
                prefix: "container:restart-php-"
            ),
            WriteCase(
                kind: "php.set_version",
                method: "PUT",
                path: "/sites/tools/modify-php-version",
                body:
                    #"{"environment_id":"\#(f.live)","php_version":"8.3","is_opt_out_from_automatic_php_update":true}"#,
                status: 202,
                prefix: "php:modify-version-"
            ),
            WriteCase(
                kind: "edge_cache.clear",
                method: "POST",
                path: "/sites/edge-caching/clear",
                body: #"{"environment_id":"\#(f.live)","clear_subdirectories":true,"url":"https://x.example/a"}"#,
                status: 202,
                prefix: "edgeCache:clear-"
            ),
            WriteCase(
                kind: "edge_cache.set_status",
                method: "PUT",
                path: "/sites/edge-caching/status",
                body: #"{"environment_id":"\#(f.live)","enabled":false}"#,
                status: 202,
                prefix: "edge-cache:update-status-"
            ),
            WriteCase(
                kind: "cdn_cache.clear",
                method: "POST",
                path: "/sites/cdn/clear-cache",
                body: #"{"environment_id":"\#(f.live)","cdn_cache_id":"\#(f.cdnCache)"}"#,
                status: 202,
                prefix: "cdn-cache:clear-"
            ),
            WriteCase(
                kind: "cdn.set_image_optimization",
                method: "PUT",
                path: "/sites/cdn/image-optimization",
                body: #"{"environment_id":"\#(f.live)","image_optimization_type":"lossless"}"#,
                status: 202,
                prefix: "cdn:update-image-optimization-"
            ),
            WriteCase(
                kind: "wpcli.run",
                method: "POST",
                path: "/sites/environments/\(f.live)/run-wp-cli-command",
                body: #"{"wp_command":"wp core version"}"#,
                status: 202,
                prefix: "cli:run-wp-cli-"
            ),
            WriteCase(
                kind: "domain.add",
                method: "POST",
                path: "/sites/environments/\(f.live)/domains",
                body: #"{"domain_name":"shop.client.example","is_wildcardless":true}"#,
                status: 202,
                prefix: "sites:add-domain-"
            ),
            WriteCase(
                kind: "domain.delete",
                method: "DELETE",
                path: "/sites/environments/\(f.live)/domains",
                body: #"{"domain_ids":["\#(f.secondaryDomain)"]}"#,
                status: 202,
                prefix: "sites:delete-domain-"
            ),
            WriteCase(
                kind: "domain.set_primary",
                method: "PUT",
                path: "/sites/environments/\(f.live)/change-primary-domain",
                body: #"{"domain_id":"\#(f.secondaryDomain)","run_search_and_replace":true}"#,
                status: 202,
                prefix: "sites:change-primary-domain-"
            ),
            WriteCase(
                kind: "dns_record.create",
                method: "POST",
                path: "/domains/\(f.dnsDomain)/dns-records",
                body: #"{"type":"A","name":"new.agency.example","ttl":3600,"resource_records":[{"value":"1.1.1.1"}]}"#,
                status: 202,
                prefix: "domains:create-dns-record-"
            ),
            WriteCase(
                kind: "dns_record.update",
                method: "PUT",
                path: "/domains/\(f.dnsDomain)/dns-records",
                body:
                    #"{"type":"A","name":"\#(f.dnsRecordName)","ttl":600,"new_resource_records":[{"value":"2.2.2.2"}]}"#,
                status: 202,
                prefix: "domains:update-dns-record-"
            ),
            WriteCase(
                kind: "dns_record.delete",
                method: "DELETE",
                path: "/domains/\(f.dnsDomain)/dns-records",
                body: #"{"type":"A","name":"\#(f.dnsRecordName)"}"#,
                status: 202,
                prefix: "domains:delete-dns-record-"
            ),
            WriteCase(
                kind: "plugin.update",
                method: "PUT",
                path: "/sites/environments/\(f.live)/plugins",
                body: #"{"name":"akismet","update_version":"5.3"}"#,
                status: 202,
                prefix: "wp-plugin:update-"
            ),
            WriteCase(
                kind: "plugin.bulk_update",
                method: "PUT",
                path: "/sites/environments/\(f.live)/plugins/bulk-update",
                body: #"{"plugins":[{"name":"akismet"},{"name":"wordpress-seo"}]}"#,
                status: 200,
                prefix: "wp-plugins:bulk-update-"
            ),
            WriteCase(
                kind: "theme.update",
                method: "PUT",
                path: "/sites/environments/\(f.live)/themes",
                body: #"{"name":"twentytwentyfour","update_version":"1.1"}"#,
                status: 202,
                prefix: "wp-theme:update-"
            ),
            WriteCase(
                kind: "theme.bulk_update",
                method: "PUT",
                path: "/sites/environments/\(f.live)/themes/bulk-update",
                body: #"{"themes":[{"name":"twentytwentyfour"}]}"#,
                status: 200,
                prefix: "wp-themes:bulk-update-"
            ),
            WriteCase(
                kind: "sftp_account.add",
                method: "POST",
                path: "/sites/environments/\(f.live)/additional-sftp-accounts",
                body: #"{"username":"ci","password":"R8zXwT@#bV!kJq9^xx","permission":"read"}"#,
                status: 200,
                prefix: "sftp-accounts:add-additional-sftp-account-"
            ),
            WriteCase(
                kind: "sftp_account.set_status",
                method: "PUT",
                path: "/sites/environments/\(f.live)/additional-sftp-accounts/toggle-status",
                body: #"{"enabled":false}"#,
                status: 202,
                prefix: "sftp-accounts:toggle-status-"
            ),
            WriteCase(
                kind: "sftp_account.delete",
                method: "DELETE",
                path: "/sites/environments/additional-sftp-accounts/\(f.sftpAccount)",
                status: 202,
                prefix: "sftp-accounts:remove-additional-sftp-account-"
            ),
        ]
    }
}

@Suite struct WriteEndpointTests {
    static func isUUID(_ text: String) -> Bool { UUID(uuidString: text) != nil }

    @Test func everyWriteIsAcceptedWithItsStatusAndPrefix() async throws {
        try await SimHarness.run { sim in
            let cases = WriteCase.all(try await sim.fixture())
            // The table covers the 37 the simulator declares, each once
            #expect(cases.count == 37)
            #expect(Set(cases.map(\.kind)) == Set(KinstaSimulator.writeEndpoints.map(\.kind)))
            for item in cases {
                let answer = try await sim.call(item.method, item.path, item.body)
                #expect(answer.status == item.status, "\(item.kind): \(answer.json)")
                let id = answer.json["operation_id"] as? String ?? ""
                #expect(id.hasPrefix(item.prefix), "\(item.kind): \(id)")
                #expect(Self.isUUID(String(id.dropFirst(item.prefix.count))), "\(item.kind): \(id)")
                #expect(answer.json["status"] as? Int == item.status)
                #expect(answer.json["message"] is String)
            }
            // Each one runs its life cycle: 404 at first, then 200 once done
            let ids = sim.simulator.operations()
            #expect(ids.count == 37)
            sim.advance()
            for operation in ids {
                let polled = try await sim.call("GET", "/operations/\(operation.operationID)")
                #expect(polled.status == 200, "\(operation.kind)")
            }
        }
    }

    @Test func everyWriteWithRequiredFieldsRefusesAnEmptyBody() async throws {
        try await SimHarness.run { sim in
            let cases = WriteCase.all(try await sim.fixture()).filter { $0.body != nil && $0.kind != "backup.create" }
            #expect(cases.count == 32)
            for item in cases {
                let answer = try await sim.call(item.method, item.path, "{}")
                #expect(answer.status == 400, "\(item.kind): \(answer.json)")
                #expect((answer.json["message"] as? String)?.hasSuffix("is required") == true, "\(item.kind)")
            }
            #expect(sim.simulator.operations().isEmpty)
        }
    }

    /// Each field of each valid body, given a value of another JSON type, is refused with that field named.
    @Test func everyFieldOfAnotherTypeIsRefused() async throws {
        try await SimHarness.run { sim in
            var tried = 0
            for item in WriteCase.all(try await sim.fixture()) {
                guard let body = item.body,
                    let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                else { continue }
                for (key, value) in object {
                    var wrong = object
                    if value is String {
                        wrong[key] = 12345
                    } else if value is [Any] {
                        wrong[key] = "not an array"
                    } else {
                        // A number or a boolean (JSONSerialization reads both as NSNumber): a string is neither.
                        wrong[key] = "1"
                    }
                    let text = String(decoding: try JSONSerialization.data(withJSONObject: wrong), as: UTF8.self)
                    let answer = try await sim.call(item.method, item.path, text)
                    #expect(answer.status == 400, "\(item.kind).\(key): \(answer.json)")
                    #expect((answer.json["message"] as? String)?.contains("\"\(key)") == true, "\(item.kind).\(key)")
                    tried += 1
                }
            }
            #expect(tried >= 80)
            #expect(sim.simulator.operations().isEmpty)
        }
    }

    @Test func theRequestLogKeepsAnswersAndRedactsSecretsAsStrings() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let body = #"{"username":"ci","password":"R8zXwT@#bV!kJq9^xx","permission":"read"}"#
            let answer = try await sim.call("POST", "/sites/environments/\(f.live)/additional-sftp-accounts", body)
            #expect(answer.status == 200)
            let response = try await sim.http.execute(
                HTTPRequest(url: sim.base.replacingOccurrences(of: "/v2", with: "/_sim/requests"))
            )
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(!text.contains("R8zXwT"))
            let log = try #require(try JSONSerialization.jsonObject(with: response.body) as? [[String: Any]])
            let entry = try #require(log.last)
            let password = try #require((entry["body"] as? [String: Any])?["password"] as? String)
            #expect(password.contains("[redacted]") && password.count >= 16)
            #expect(entry["status"] as? Int == 200)
            let logged = try #require((entry["answer"] as? String).map { Data($0.utf8) })
            let json = try #require(try JSONSerialization.jsonObject(with: logged) as? [String: Any])
            #expect(json["operation_id"] as? String == answer.json["operation_id"] as? String)
        }
    }

    /// A path no route has answers Kinsta's 404 through the same wrapper: logged, behind the key.
    @Test func otherPathsAnswerKinstasNotFoundAndAreLogged() async throws {
        try await SimHarness.run { sim in
            let unknown = try await sim.call("GET", "/no/such/endpoint")
            #expect(unknown.status == 404)
            #expect(
                unknown.json["message"] as? String
                    == "Could not find data or the user does not have permissions to retrieve it"
            )
            #expect(try await sim.call("PATCH", "/sites/tools/clear-cache", "{}").status == 404)
            let refused = try await sim.http.execute(HTTPRequest(url: sim.base + "/no/such/endpoint"))
            #expect(refused.status == 401)
            let log = sim.simulator.requestLog()
            #expect(log.map(\.path) == ["/v2/no/such/endpoint", "/v2/sites/tools/clear-cache", "/v2/no/such/endpoint"])
            #expect(log.map(\.status) == [404, 404, 401])
            #expect(log[0].answer.contains("Could not find data"))
        }
    }

    @Test func operationIDsArePolledRawOrPercentEncoded() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let id = try #require(
                try await sim.call("POST", "/sites/tools/clear-cache", #"{"environment_id":"\#(f.live)"}"#)
                    .json["operation_id"] as? String
            )
            sim.advance()
            #expect(try await sim.call("GET", "/operations/\(id)").status == 200)
            let encoded = id.replacingOccurrences(of: ":", with: "%3A")
            #expect(try await sim.call("GET", "/operations/\(encoded)").status == 200)
            #expect(try await sim.call("GET", "/operations/cache:clear-nope").status == 404)
        }
    }

    /// Refusals as Kinsta answers them: 400 `{"message", "status": 400, "data": null}`.
    @Test(
        arguments: [
            // A required field missing
            ("POST", "/sites/tools/clear-cache", "{}", "\"environment_id\" is required"),
            (
                "POST", "/sites/environments/{live}/backups/restore", #"{"backup_id":{backup}}"#,
                "\"notified_user_id\" is required"
            ),
            (
                "PUT", "/sites/environments/{live}/change-primary-domain", #"{"domain_id":"x"}"#,
                "\"run_search_and_replace\" is required"
            ),
            // A wrong JSON type
            (
                "POST", "/sites/environments/{live}/backups/restore",
                #"{"backup_id":"{backup}","notified_user_id":"{user}"}"#, "must be a number"
            ),
            ("PUT", "/sites/edge-caching/status", #"{"environment_id":"{live}","enabled":"yes"}"#, "must be a boolean"),
            ("POST", "/sites/{site}/environments/plain", #"{"display_name":"x","is_premium":1}"#, "must be a boolean"),
            ("DELETE", "/sites/environments/{live}/domains", #"{"domain_ids":"{live}"}"#, "must be an array"),
            (
                "POST", "/domains/{dns}/dns-records", #"{"type":"A","name":"a","ttl":"300","resource_records":[]}"#,
                "must be a number"
            ),
            // Not a UUID where the file says uuid
            (
                "POST", "/sites/environments/{live}/backups/restore",
                #"{"backup_id":{backup},"notified_user_id":"bench-user"}"#, "valid GUID"
            ),
            (
                "POST", "/domains/not-a-uuid/dns-records", #"{"type":"A","name":"a","ttl":300,"resource_records":[]}"#,
                "valid GUID"
            ),
            (
                "POST", "/sites/environments/env-1/run-wp-cli-command", #"{"wp_command":"wp core version"}"#,
                "valid GUID"
            ),
            // Enums, patterns, ranges, lengths, closed objects
            (
                "PUT", "/sites/cdn/image-optimization",
                #"{"environment_id":"{live}","image_optimization_type":"medium"}"#, "must be one of"
            ),
            (
                "POST", "/sites",
                #"{"company":"{company}","display_name":"a","region":"us-central1","install_mode":"migrate","admin_email":"a","admin_password":"b","admin_user":"c","site_title":"d","wp_language":"en_US"}"#,
                "must be one of"
            ),
            ("POST", "/sites/environments/{live}/run-wp-cli-command", #"{"wp_command":"rm -rf /"}"#, "fails to match"),
            (
                "POST", "/domains/{dns}/dns-records", #"{"type":"A","name":"a","ttl":60,"resource_records":[]}"#,
                "greater than or equal to 300"
            ),
            (
                "POST", "/sites/environments/{live}/additional-sftp-accounts", #"{"username":"u","password":"short"}"#,
                "at least 16"
            ),
            (
                "POST", "/sites/{site}/change-site-php-allocation", #"{"thread_count":2,"thread_memory":256,"x":1}"#,
                "is not allowed"
            ),
            ("DELETE", "/sites/environments/backups/latest", nil, "must be a number"),
            // A region the company does not have
            (
                "POST", "/sites/plain", #"{"company":"{company}","display_name":"Mars","region":"mars-north1"}"#,
                "region"
            ),
            ("POST", "/sites/tools/clear-cache", "not json", "Bad request format"),
        ] as [(String, String, String?, String)]
    )
    func refusesWhatTheFileRefuses(method: String, path: String, body: String?, message: String) async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let fill = { (text: String) in
                text.replacingOccurrences(of: "{live}", with: f.live).replacingOccurrences(of: "{site}", with: f.site)
                    .replacingOccurrences(of: "{backup}", with: String(f.backup))
                    .replacingOccurrences(of: "{user}", with: f.user).replacingOccurrences(
                        of: "{dns}",
                        with: f.dnsDomain
                    )
                    .replacingOccurrences(of: "{company}", with: f.company)
            }
            let answer = try await sim.call(method, fill(path), body.map(fill))
            #expect(answer.status == 400, "\(answer.json)")
            #expect((answer.json["message"] as? String)?.contains(message) == true, "\(answer.json)")
            #expect(answer.json["status"] as? Int == 400)
            #expect(answer.json["data"] is NSNull)
            #expect(sim.simulator.operations().isEmpty)
        }
    }

    @Test func unknownIDsAnswerKinstasNotFound() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let unknown = "00000000-0000-4000-8000-000000000000"
            let calls: [(String, String, String?)] = [
                ("POST", "/sites/tools/clear-cache", #"{"environment_id":"\#(unknown)"}"#),
                ("DELETE", "/sites/environments/backups/999999", nil),
                ("POST", "/sites/environments/\(unknown)/manual-backups", #"{"tag":"x"}"#),
                (
                    "POST", "/domains/\(unknown)/dns-records",
                    #"{"type":"A","name":"a","ttl":300,"resource_records":[]}"#
                ),
                ("PUT", "/sites/environments/\(f.live)/plugins", #"{"name":"no-such-plugin","update_version":"1"}"#),
                ("POST", "/sites/cdn/clear-cache", #"{"environment_id":"\#(f.live)","cdn_cache_id":"\#(unknown)"}"#),
                ("DELETE", "/sites/environments/additional-sftp-accounts/\(unknown)", nil),
                ("GET", "/sites/environments/\(unknown)/backups", nil),
                ("GET", "/company/\(unknown)/users", nil),
            ]
            for (method, path, body) in calls {
                let answer = try await sim.call(method, path, body)
                #expect(answer.status == 404, "\(method) \(path)")
                #expect(
                    answer.json["message"] as? String
                        == "Could not find data or the user does not have permissions to retrieve it"
                )
                #expect(answer.json["data"] is NSNull)
            }
            #expect(sim.simulator.operations().isEmpty)
        }
    }

    @Test func theLegacyRestoreBodyIsRefusedUnlessConfigured() async throws {
        try await SimHarness.run { sim in
            let f = try await sim.fixture()
            let legacy = #"{"backup_id":\#(f.backup),"env_display_name_of_backup":"Live"}"#
            let answer = try await sim.call("POST", "/sites/environments/\(f.live)/backups/restore", legacy)
            #expect(answer.status == 400)
        }
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let simulator = KinstaSimulator(
            configuration: SimulatorConfiguration(apiKey: "k", acceptsLegacyRestoreBody: true)
        )
        try await withRunningSimulator(simulator) { base in
            let env = try #require(simulator.inventory().first)
            let body = #"{"backup_id":\#(env.backupIDs[0]),"env_display_name_of_backup":"Live"}"#
            let answer = try await http.execute(
                HTTPRequest(
                    method: "POST",
                    url: base + "/sites/environments/\(env.environmentID)/backups/restore",
                    headers: [HTTPHeader("Authorization", "Bearer k")],
                    body: Data(body.utf8)
                )
            )
            #expect(answer.status == 202)
        }
    }
}
