import Foundation
import HTTPTypes

/// The read endpoints, shaped as the OpenAPI file's response schemas require (every required field, even those real
/// answers have been seen to leave out).
extension KinstaSimulator {
    static let reads: [SimRoute] = [
        SimRoute(method: .get, path: "/operations/{operation_id}") { simulator, call, state in
            simulator.operationStatus(call, &state)
        },
        SimRoute(method: .get, path: "/validate") { simulator, call, state in
            var status = "active"
            if let expiry = state.keyExpiresAt, call.now >= expiry { status = "expired" }
            return .json(
                200,
                [
                    "name": "kinsta-sim key", "company": simulator.configuration.companyID, "status": status,
                    "expires_at": state.keyExpiresAt.map(iso) ?? NSNull(),
                ] as [String: Any]
            )
        },
        SimRoute(method: .get, path: "/sites") { simulator, call, state in
            guard let company = call.query["company"] else { return .badRequest("\"company\" is required") }
            guard company == simulator.configuration.companyID else { return .notFound }
            let withEnvironments = call.query["include_environments"] == "true"
            return .json(
                200,
                [
                    "company": [
                        "sites": state.sites.map {
                            siteJSON($0, environments: withEnvironments, state: state, now: call.now)
                        }
                    ]
                ]
            )
        },
        SimRoute(method: .get, path: "/sites/{site_id}") { simulator, call, state in
            guard let site = state.site(call["site_id"]) else { return .siteNotFound }
            var json = siteJSON(site, environments: true, state: state, now: call.now)
            json["company_id"] = simulator.configuration.companyID
            return .json(200, ["site": json])
        },
        SimRoute(method: .get, path: "/sites/{site_id}/environments") { _, call, state in
            guard let site = state.site(call["site_id"]) else { return .siteNotFound }
            let environments = site.environments.map {
                environmentJSON(
                    $0,
                    site: site,
                    blocked: state.isBlocked(environment: $0.id, site: site.id, now: call.now)
                )
            }
            return .json(200, ["site": ["environments": environments]])
        },
        environmentRead("backups") { environment, _, _ in
            [
                "display_name": environment.displayName,
                "backups": environment.backups.map {
                    ["id": $0.id, "name": $0.name, "note": $0.note, "type": $0.type, "created_at": ms($0.createdAt)]
                        as [String: Any]
                },
            ]
        },
        environmentRead("downloadable-backups") { environment, _, _ in
            [
                "display_name": environment.displayName,
                "downloadable_backups": environment.downloadableBackups.map {
                    [
                        "id": $0.id, "created_at": ms($0.createdAt),
                        "download_link": "https://downloads.kinsta-sim.invalid/\(environment.id)/\($0.id).zip",
                        "expires_at": ms($0.createdAt.addingTimeInterval(86_400)), "is_generation_in_progress": false,
                    ] as [String: Any]
                },
            ]
        },
        environmentRead("plugins") { environment, _, _ in
            [
                "id": environment.id,
                "container_info": [
                    "id": environment.containerID, "wp_plugins": ["data": environment.plugins.map(extensionJSON)],
                ],
            ]
        },
        environmentRead("themes") { environment, _, _ in
            [
                "id": environment.id,
                "container_info": [
                    "id": environment.containerID, "wp_themes": ["data": environment.themes.map(extensionJSON)],
                ],
            ]
        },
        environmentRead("domains") { environment, _, _ in
            [
                "site_domains": environment.domains.map {
                    ["id": $0.id, "name": $0.name, "uses_cloudflare_dns": false] as [String: Any]
                }
            ]
        },
        environmentRead("additional-sftp-accounts") { environment, _, _ in
            [
                "additional_sftp_accounts": environment.sftpAccounts.map {
                    [
                        "id": $0.id, "username": $0.username, "root_directory": $0.rootDirectory,
                        "is_active": $0.isActive && environment.sftpAccountsEnabled, "permission": $0.permission,
                    ] as [String: Any]
                },
                "container_info": ["additional_sftp_accounts_port": "2222"],
            ]
        },
        companyRead("users") { state, _ in
            [
                "users": state.users.map {
                    [
                        "user": [
                            "id": $0.id, "email": $0.email, "full_name": $0.fullName,
                            "image": "https://avatars.kinsta-sim.invalid/\($0.id).png",
                        ]
                    ]
                }
            ]
        },
        companyRead("available-regions") { state, _ in
            ["available_regions": state.regions.map { ["name": $0.name, "region": $0.region] }]
        },
        companyRead("activity-logs") { state, call in
            ["activity_logs": activityLogs(state, call)]
        },
        SimRoute(method: .get, path: "/domains") { simulator, call, state in
            guard let company = call.query["company"] else { return .badRequest("\"company\" is required") }
            guard company == simulator.configuration.companyID else { return .notFound }
            let domains = state.dnsDomains.map {
                ["id": $0.id, "name": $0.name, "site_id": $0.siteID ?? NSNull(), "is_active": true] as [String: Any]
            }
            return .json(200, ["company": ["domains": domains]])
        },
        SimRoute(method: .get, path: "/domains/{domain_id}/dns-records") { _, call, state in
            let id = call["domain_id"]
            guard SimSchema.isUUID(id) else { return .badRequest("\"domain_id\" must be a valid GUID") }
            guard let domain = state.dnsDomains.first(where: { $0.id == id }) else { return .notFound }
            let records = domain.records.map {
                [
                    "type": $0.type, "name": $0.name, "ttl": $0.ttl,
                    "resource_records": $0.values.map { ["value": $0] },
                ] as [String: Any]
            }
            return .json(200, ["domain": ["dns_records": records]])
        },
    ]

    /// `GET /sites/environments/{env_id}/NAME`: `{"environment": …}`, or Kinsta's 404.
    static func environmentRead(
        _ name: String,
        _ render: @escaping @Sendable (SimEnvironment, SimSite, SimCall) -> [String: Any]
    ) -> SimRoute {
        SimRoute(method: .get, path: "/sites/environments/{env_id}/\(name)") { _, call, state in
            guard let site = state.site(ofEnvironment: call["env_id"]),
                let environment = state.environment(call["env_id"])
            else { return .notFound }
            return .json(200, ["environment": render(environment, site, call)])
        }
    }

    /// `GET /company/{id}/NAME`: `{"company": …}` for the one company, else Kinsta's 404.
    static func companyRead(
        _ name: String,
        _ render: @escaping @Sendable (SimulatorState, SimCall) -> [String: Any]
    ) -> SimRoute {
        SimRoute(method: .get, path: "/company/{id}/\(name)") { simulator, call, state in
            guard call["id"] == simulator.configuration.companyID else { return .notFound }
            return .json(200, ["company": render(state, call)])
        }
    }

    /// One entry per visible operation, newest first; a failed one carries its reason in `public_error`.
    static func activityLogs(_ state: SimulatorState, _ call: SimCall) -> [String: Any] {
        let entries = state.operationOrder.enumerated().compactMap { index, id -> [String: Any]? in
            guard let operation = state.operations[id], operation.visibleAt <= call.now else { return nil }
            let done = operation.doneAt <= call.now
            let failed = done && operation.fails
            return [
                "id": index + 1, "site_id": operation.scope.siteID ?? NSNull(), "created_at": ms(operation.createdAt),
                "is_done": done, "has_failed": failed, "has_warning": false, "type": operation.kind,
                "public_error": failed ? SimAnswer.blockedMessage : NSNull(), "ip_address": "127.0.0.1",
                "api_key_info": ["id": state.apiKeyID, "name": "kinsta-sim key"],
                "descriptions": ["\(operation.kind) \(operation.target ?? operation.displayName ?? "")"],
            ]
        }
        let newestFirst = Array(entries.reversed())
        let offset = max(0, Int(call.query["offset"] ?? "") ?? 0)
        let limit = max(0, Int(call.query["limit"] ?? "") ?? 10)
        let page = newestFirst.dropFirst(offset).prefix(limit)
        return ["items": Array(page), "total": newestFirst.count]
    }

    static func extensionJSON(_ item: SimExtension) -> [String: Any] {
        [
            "name": item.name, "title": item.title, "status": item.status, "version": item.version,
            "update": item.updateVersion == nil ? "none" : "available",
            "update_version": item.updateVersion ?? NSNull(),
            "update_status": NSNull(),
        ]
    }

    static func siteJSON(_ site: SimSite, environments: Bool, state: SimulatorState, now: Date) -> [String: Any] {
        var json: [String: Any] = [
            "id": site.id, "name": site.name, "display_name": site.displayName, "status": "live", "siteLabels": [],
        ]
        if environments {
            json["environments"] = site.environments.map {
                environmentJSON($0, site: site, blocked: state.isBlocked(environment: $0.id, site: site.id, now: now))
            }
        }
        return json
    }

    static func domainJSON(_ domain: SimDomain, site: SimSite) -> [String: Any] {
        ["id": domain.id, "name": domain.name, "site_id": site.id, "is_active": true, "type": domain.type]
    }

    static func environmentJSON(_ environment: SimEnvironment, site: SimSite, blocked: Bool) -> [String: Any] {
        let primary = environment.domains.first { $0.id == environment.primaryDomainID } ?? environment.domains.first
        return [
            "id": environment.id, "name": environment.name, "display_name": environment.displayName,
            "is_blocked": blocked, "id_edge_cache": environment.edgeCacheEnabled ? environment.edgeCacheID : NSNull(),
            "cdn_cache_id": environment.cdnCacheID,
            "is_opt_out_from_automatic_php_update": environment.isOptOutFromAutomaticPHPUpdate,
            "web_root": "/www/\(site.name)_\(environment.name)/public\(environment.webRootSubfolder)",
            "image_optimization_type": environment.imageOptimization,
            "is_additional_sftp_accounts_enabled": environment.sftpAccountsEnabled,
            "is_premium": environment.isPremium, "wordpress_version": environment.wordpressVersion,
            "domains": environment.domains.map { domainJSON($0, site: site) },
            "primaryDomain": primary.map { domainJSON($0, site: site) } ?? [:],
            "ssh_connection": ["ssh_port": "22", "ssh_ip": ["external_ip": "203.0.113.20"]],
            "container_info": ["id": environment.containerID, "php_engine_version": "php\(environment.phpVersion)"],
        ]
    }
}
