import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// `/_sim/…` (no auth): the request log, the operations, the state, and a webhook receiver.
extension KinstaSimulator {
    func handleAdmin(_ request: Request) async throws -> Response {
        let path = request.uri.path
        let now = now()
        // A webhook receiver for demos and tests: POST /_sim/webhooks/NAME records the delivery.
        if request.method == .post, path.hasPrefix("/_sim/webhooks/") {
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let name = String(path.dropFirst("/_sim/webhooks/".count))
            let count = webhooks.withLock { list in
                list.append((name, headers, Data(body.readableBytesView)))
                return list.count
            }
            let ready = webhookWaiters.withLock { waiters in
                let due = waiters.filter { $0.value.atLeast <= count }
                for id in due.keys { waiters.removeValue(forKey: id) }
                return due.values.map(\.continuation)
            }
            for continuation in ready { continuation.resume() }
            return SimAnswer.json(200, ["received": true]).response
        }
        switch path {
        case "/_sim/webhooks":
            // `?wait_for=N`: answers once N deliveries were received (or after 5 s), so a test waits on the
            // deliveries themselves instead of asking again and again.
            if let wanted = request.uri.queryParameters["wait_for"].flatMap({ Int(String($0)) }) {
                await waitForWebhooks(atLeast: wanted, timeout: 5)
            }
            let list = webhooks.withLock { $0 }.map { entry -> [String: Any] in
                ["endpoint": entry.name, "headers": entry.headers, "body": String(decoding: entry.body, as: UTF8.self)]
            }
            return SimAnswer.json(200, list).response
        case "/_sim/requests":
            let log = requestLog().map { entry -> [String: Any] in
                var json: [String: Any] = [
                    "seq": entry.seq, "at": Self.iso(entry.at), "method": entry.method, "path": entry.path,
                    "status": entry.status, "answer": entry.answer,
                ]
                if let id = entry.operationID { json["operation_id"] = id }
                if let body = entry.body, let parsed = try? JSONSerialization.jsonObject(with: Data(body.utf8)) {
                    json["body"] = parsed
                }
                return json
            }
            return SimAnswer.json(200, log).response
        case "/_sim/operations":
            return SimAnswer.json(
                200,
                operations().map {
                    [
                        "operation_id": $0.operationID, "kind": $0.kind, "state": $0.state,
                        "target": $0.target ?? NSNull(), "display_name": $0.displayName ?? NSNull(),
                        "visible_at": Self.iso($0.visibleAt), "done_at": Self.iso($0.doneAt),
                    ] as [String: Any]
                }
            ).response
        case "/_sim/state":
            return SimAnswer.json(200, adminState(now: now)).response
        default:
            return SimAnswer.error(404, "no such simulator route").response
        }
    }

    /// Everything a demo or test needs to drive every kind: sites with their environments (backups, domains, CDN
    /// and edge cache ids, plugins, themes, SFTP accounts, …), users, regions and DNS domains.
    func adminState(now: Date) -> [String: Any] {
        state.withLock { state -> [String: Any] in
            state.settle(now: now)
            let sites = state.sites.map { site -> [String: Any] in
                var json = Self.siteJSON(site, environments: false, state: state, now: now)
                json["php_allocation"] = ["thread_count": site.phpThreadCount, "thread_memory": site.phpThreadMemory]
                json["environments"] = site.environments.map { environment in
                    var env = Self.environmentJSON(
                        environment,
                        site: site,
                        blocked: state.isBlocked(environment: environment.id, site: site.id, now: now)
                    )
                    env["backups"] = environment.backups.map {
                        ["id": $0.id, "name": $0.name, "type": $0.type, "note": $0.note] as [String: Any]
                    }
                    env["downloadable_backups"] = environment.downloadableBackups.map { ["id": $0.id] }
                    env["primary_domain_id"] = environment.primaryDomainID
                    env["edge_cache_enabled"] = environment.edgeCacheEnabled
                    env["edge_cache_id"] = environment.edgeCacheID
                    env["php_version"] = environment.phpVersion
                    env["php_allocation"] = [
                        "thread_count": environment.phpThreadCount, "thread_memory": environment.phpThreadMemory,
                    ]
                    env["plugins"] = environment.plugins.map(Self.extensionJSON)
                    env["themes"] = environment.themes.map(Self.extensionJSON)
                    env["sftp_accounts"] = environment.sftpAccounts.map {
                        [
                            "id": $0.id, "username": $0.username, "root_directory": $0.rootDirectory,
                            "permission": $0.permission, "is_active": $0.isActive,
                        ] as [String: Any]
                    }
                    env["wp_cli_commands"] = environment.wpCLICommands
                    return env
                }
                return json
            }
            return [
                "company_id": configuration.companyID, "api_key_hint": String(configuration.apiKey.prefix(3)) + "…",
                "sites": sites,
                "users": state.users.map { ["id": $0.id, "email": $0.email, "full_name": $0.fullName] },
                "regions": state.regions.map { ["region": $0.region, "name": $0.name] },
                "dns_domains": state.dnsDomains.map { domain in
                    [
                        "id": domain.id, "name": domain.name, "site_id": domain.siteID ?? NSNull(),
                        "records": domain.records.map {
                            ["type": $0.type, "name": $0.name, "ttl": $0.ttl, "values": $0.values] as [String: Any]
                        },
                    ] as [String: Any]
                },
                "key_expires_at": state.keyExpiresAt.map(Self.iso) ?? NSNull(),
            ]
        }
    }
}

extension KinstaSimulator {
    /// Returns once at least `count` webhook deliveries were received, or after `timeout` seconds.
    func waitForWebhooks(atLeast count: Int, timeout: Double) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.webhookArrival(atLeast: count) }
            group.addTask { try? await Task.sleep(for: .seconds(timeout)) }
            await group.next()
            group.cancelAll()
        }
    }

    private func webhookArrival(atLeast count: Int) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Checked under the waiters' lock: a delivery appended before it is counted here, one after it
                // finds the waiter registered.
                let now = webhookWaiters.withLock { waiters -> Bool in
                    if webhooks.withLock({ $0.count }) >= count || Task.isCancelled { return true }
                    waiters[id] = (count, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            webhookWaiters.withLock { $0.removeValue(forKey: id) }?.continuation.resume()
        }
    }
}
