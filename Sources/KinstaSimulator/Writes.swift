import Foundation
import HTTPTypes

/// The 37 write endpoints that answer an `operation_id` (Kinsta's OpenAPI file v1.87.0): their schemas, the checks
/// Kinsta makes beyond them, what each occupies and what it changes once it succeeds.
extension KinstaSimulator {
    static let writes: [SimWrite] =
        siteWrites + environmentWrites + backupWrites + toolWrites + domainWrites + extensionWrites + settingWrites

    // MARK: Schemas shared by several

    static let environmentIDBody = SimSchema.object([.required("environment_id", .text)])
    static func booleans(_ names: [String]) -> [SimField] { names.map { SimField.optional($0, .boolean) } }
    static let dnsRecordValues = SimSchema.array(of: .object([.required("value", .text)]))
    static let phpAllocation = SimSchema.object(
        [.required("thread_count", .number()), .required("thread_memory", .number())],
        closed: true
    )
    static let tools: ClosedRange<Double> = 3...60

    // MARK: Sites

    static let siteWrites: [SimWrite] = [
        SimWrite(
            kind: "site.create",
            method: .post,
            path: "/sites",
            prefix: "sites:add-",
            body: .object(
                ["company", "display_name", "region"].map { .required($0, .text) }
                    + [.required("install_mode", .string(values: ["new", "plain", "clone"]))]
                    + ["admin_email", "admin_password", "admin_user", "site_title", "wp_language"].map {
                        .required($0, .text)
                    }
                    + booleans(["is_subdomain_multisite", "is_multisite", "woocommerce", "wordpressseo"])
            ),
            duration: 60...300
        ) { simulator, _, body, state in simulator.planNewSite(body, state: state) },
        SimWrite(
            kind: "site.create_plain",
            method: .post,
            path: "/sites/plain",
            prefix: "sites:add-plain-",
            body: .object(["company", "display_name", "region"].map { .required($0, .text) }),
            duration: 30...120
        ) { simulator, _, body, state in simulator.planNewSite(body, state: state) },
        SimWrite(
            kind: "site.clone",
            method: .post,
            path: "/sites/clone",
            prefix: "site:clone-",
            body: .object(["company", "display_name", "source_env_id"].map { .required($0, .text) }),
            duration: 120...480
        ) { simulator, _, body, state in simulator.planNewSite(body, state: state) },
        SimWrite(
            kind: "site.delete",
            method: .delete,
            path: "/sites/{site_id}",
            prefix: "sites:delete-",
            duration: 20...180
        ) { _, call, _, state in
            let siteID = call["site_id"]
            guard state.site(siteID) != nil else { return .refuse(.siteNotFound) }
            return .start(scope: .site(siteID), target: siteID) { state, _ in
                state.sites.removeAll { $0.id == siteID }
                for index in state.dnsDomains.indices where state.dnsDomains[index].siteID == siteID {
                    state.dnsDomains[index].siteID = nil
                }
                return nil
            }
        },
        SimWrite(
            kind: "site.reset",
            method: .post,
            path: "/sites/{site_id}/reset-site",
            prefix: "sites:reset-site-",
            body: .object([.required("admin_password", .text)]),
            duration: 60...300
        ) { _, call, _, state in
            let siteID = call["site_id"]
            guard state.site(siteID) != nil else { return .refuse(.siteNotFound) }
            return .start(scope: .site(siteID), target: siteID)
        },
        SimWrite(
            kind: "site.set_php_allocation",
            method: .post,
            path: "/sites/{site_id}/change-site-php-allocation",
            prefix: "sites:change-site-php-allocation-",
            body: phpAllocation,
            duration: tools
        ) { _, call, body, state in
            let siteID = call["site_id"]
            guard state.site(siteID) != nil else { return .refuse(.siteNotFound) }
            let count = Int(body["thread_count"]?.number ?? 0)
            let memory = Int(body["thread_memory"]?.number ?? 0)
            return .start(scope: .site(siteID), target: siteID) { state, _ in
                state.updateSite(siteID) {
                    $0.phpThreadCount = count
                    $0.phpThreadMemory = memory
                }
                return nil
            }
        },
    ]

    /// A site create, plain create or clone: the company, the region, a display name not in use, the source.
    func planNewSite(_ body: SimJSON, state: SimulatorState) -> SimPlan {
        guard body["company"]?.string == configuration.companyID else { return .refuse(.notFound) }
        if let region = body["region"]?.string, !state.regions.contains(where: { $0.region == region }) {
            return .refuse(.badRequest("\"region\" must be one of the company's available regions"))
        }
        let name = body["display_name"]?.string ?? ""
        let taken =
            state.sites.contains { $0.displayName == name }
            || state.pending.lazy.compactMap { state.operations[$0] }.contains {
                $0.displayName == name && !$0.applied && $0.kind.hasPrefix("site.") && $0.kind != "site.delete"
            }
        guard !taken else { return .refuse(.badRequest("display name is already used")) }
        var scope = SimScope.none
        let source = body["source_env_id"]?.string
        if let source {
            guard let site = state.site(ofEnvironment: source) else { return .refuse(.notFound) }
            scope = .environments(site: site.id, [source])
        }
        return .start(scope: scope, target: source, displayName: name) { state, doneAt in
            let site = state.makeSite(displayName: name, staging: false, now: doneAt)
            state.sites.append(site)
            return site.id
        }
    }

    // MARK: Environments

    static let environmentWrites: [SimWrite] = [
        SimWrite(
            kind: "environment.create",
            method: .post,
            path: "/sites/{site_id}/environments",
            prefix: "environment:add-",
            body: .object(
                [.required("display_name", .text), .required("site_title", .text), .required("is_premium", .boolean)]
                    + ["admin_email", "admin_password", "admin_user", "wp_language"].map { .required($0, .text) }
                    + booleans([
                        "is_subdomain_multisite", "is_multisite", "woocommerce", "wordpress_plugin_edd", "wordpressseo",
                    ])
            ),
            duration: 60...300
        ) { _, call, body, state in planNewEnvironment(call["site_id"], body, state: state) },
        SimWrite(
            kind: "environment.create_plain",
            method: .post,
            path: "/sites/{site_id}/environments/plain",
            prefix: "environment:clone-",
            body: .object([.required("display_name", .text), .required("is_premium", .boolean)]),
            duration: 60...300
        ) { _, call, body, state in planNewEnvironment(call["site_id"], body, state: state) },
        SimWrite(
            kind: "environment.clone",
            method: .post,
            path: "/sites/{site_id}/environments/clone",
            prefix: "environment:clone-",
            body: .object([
                .required("display_name", .text), .required("is_premium", .boolean),
                .required("source_env_id", .text),
            ]),
            duration: 60...300
        ) { _, call, body, state in planNewEnvironment(call["site_id"], body, state: state) },
        SimWrite(
            kind: "environment.push",
            method: .put,
            path: "/sites/{site_id}/environments",
            prefix: "environments:push-",
            body: .object(
                [.required("source_env_id", .text), .required("target_env_id", .text)]
                    + booleans(["push_db", "push_files", "run_search_and_replace"])
                    + [
                        .optional("push_files_option", .string(values: ["ALL_FILES", "SPECIFIC_FILES"])),
                        .optional("file_list", .strings),
                    ]
            ),
            duration: 60...300
        ) { _, call, body, state in
            let siteID = call["site_id"]
            guard let site = state.site(siteID) else { return .refuse(.siteNotFound) }
            let source = body["source_env_id"]?.string ?? ""
            let target = body["target_env_id"]?.string ?? ""
            guard site.environments.contains(where: { $0.id == source }),
                site.environments.contains(where: { $0.id == target })
            else { return .refuse(.notFound) }
            guard source != target else {
                return .refuse(.badRequest("\"target_env_id\" must differ from \"source_env_id\""))
            }
            return .start(scope: .environments(site: siteID, [source, target]), target: target)
        },
        SimWrite(
            kind: "environment.delete",
            method: .delete,
            path: "/sites/environments/{env_id}",
            prefix: "environments:delete-",
            duration: 20...180
        ) { _, call, _, state in
            onEnvironment(call["env_id"], state) { site, environment in
                guard environment.name != "live" else {
                    return .refuse(.badRequest("The live environment can't be deleted"))
                }
                let envID = environment.id
                return .start(scope: .environments(site: site.id, [envID]), target: envID) { state, _ in
                    state.updateSite(site.id) { $0.environments.removeAll { $0.id == envID } }
                    return nil
                }
            }
        },
        SimWrite(
            kind: "environment.set_php_allocation",
            method: .post,
            path: "/sites/environments/{env_id}/change-environment-php-allocation",
            prefix: "environments:change-environment-php-allocation-",
            body: phpAllocation,
            duration: tools
        ) { _, call, body, state in
            let count = Int(body["thread_count"]?.number ?? 0)
            let memory = Int(body["thread_memory"]?.number ?? 0)
            return onEnvironment(call["env_id"], state) { site, environment in
                change(site, environment) {
                    $0.phpThreadCount = count
                    $0.phpThreadMemory = memory
                }
            }
        },
        SimWrite(
            kind: "environment.set_webroot_subfolder",
            method: .post,
            path: "/sites/environments/{env_id}/change-webroot-subfolder",
            prefix: "sites:change-webroot-subfolder-",
            body: .object(
                [.required("web_root_subfolder", .string(pattern: #"^\/([a-zA-Z0-9_-]+\/?)*$"#))]
                    + booleans(["clear_all_cache", "refresh_plugins_and_themes"])
            ),
            duration: tools
        ) { _, call, body, state in
            let subfolder = body["web_root_subfolder"]?.string ?? ""
            return onEnvironment(call["env_id"], state) { site, environment in
                change(site, environment) { $0.webRootSubfolder = subfolder == "/" ? "" : subfolder }
            }
        },
    ]

    /// An environment create, plain create or clone on `siteID`: a display name not in use on the site, the source
    /// among its environments. The new environment starts with no backups (a clone copies files and database, not
    /// the source's backup list) and a `*.kinsta.cloud` domain of its own.
    static func planNewEnvironment(_ siteID: String, _ body: SimJSON, state: SimulatorState) -> SimPlan {
        guard let site = state.site(siteID) else { return .refuse(.siteNotFound) }
        let name = body["display_name"]?.string ?? ""
        let premium = body["is_premium"]?.bool ?? false
        let taken =
            site.environments.contains { $0.displayName == name }
            || state.pending.lazy.compactMap { state.operations[$0] }.contains {
                $0.displayName == name && !$0.applied && $0.kind.hasPrefix("environment.") && $0.scope.siteID == siteID
            }
        guard !taken else { return .refuse(.badRequest("display name is already used")) }
        if let source = body["source_env_id"]?.string, !site.environments.contains(where: { $0.id == source }) {
            return .refuse(.notFound)
        }
        return .start(scope: .site(siteID), target: siteID, displayName: name) { state, doneAt in
            guard let site = state.site(siteID) else { return nil }
            let slug = SimulatorState.slug(name)
            var environment = state.makeEnvironment(
                id: state.idRandom.uuid(),
                name: slug,
                displayName: name,
                site: site.name,
                now: doneAt
            )
            environment.isPremium = premium
            environment.backups = []
            state.updateSite(siteID) { $0.environments.append(environment) }
            return nil
        }
    }

    /// `body` run on environment `id` and its site, or Kinsta's 404 when there is none.
    static func onEnvironment(
        _ id: String,
        _ state: SimulatorState,
        _ body: (SimSite, SimEnvironment) -> SimPlan
    ) -> SimPlan {
        guard let site = state.site(ofEnvironment: id), let environment = state.environment(id) else {
            return .refuse(.notFound)
        }
        return body(site, environment)
    }

    /// An operation on one environment that, once it succeeds, applies `edit` to it.
    static func change(
        _ site: SimSite,
        _ environment: SimEnvironment,
        _ edit: @escaping @Sendable (inout SimEnvironment) -> Void
    ) -> SimPlan {
        let envID = environment.id
        return .start(scope: .environments(site: site.id, [envID]), target: envID) { state, _ in
            state.updateEnvironment(envID, edit)
            return nil
        }
    }

    /// An operation on one environment that leaves no trace in the reads.
    static func touch(_ site: SimSite, _ environment: SimEnvironment) -> SimPlan {
        .start(scope: .environments(site: site.id, [environment.id]), target: environment.id)
    }

    // MARK: Backups

    static let backupWrites: [SimWrite] = [
        SimWrite(
            kind: "backup.restore",
            method: .post,
            path: "/sites/environments/{target_env_id}/backups/restore",
            prefix: "backups:restore-",
            duration: 20...180
        ) { simulator, call, _, state in
            // The body is checked here: the older form (env_display_name_of_backup) is taken only when configured.
            let body = SimJSON.parse(call.body) ?? .null
            var fields: [SimField] = [.required("backup_id", .number())]
            if simulator.configuration.acceptsLegacyRestoreBody, body["notified_user_id"] == nil {
                fields.append(.required("env_display_name_of_backup", .text))
            } else {
                fields.append(.required("notified_user_id", .uuid))
            }
            if let refusal = SimSchema.object(fields).refusal(of: body, at: "") { return .refuse(.badRequest(refusal)) }
            let backupID = Int(body["backup_id"]?.number ?? -1)
            return onEnvironment(call["target_env_id"], state) { site, environment in
                let known = site.environments.contains { $0.backups.contains { $0.id == backupID } }
                guard known else { return .refuse(.notFound) }
                return touch(site, environment)
            }
        },
        SimWrite(
            kind: "backup.create",
            method: .post,
            path: "/sites/environments/{env_id}/manual-backups",
            prefix: "backups:add-manual-",
            body: .object([.optional("tag", .text)]),
            duration: 30...180
        ) { _, call, body, state in
            let tag = body["tag"]?.string ?? ""
            return onEnvironment(call["env_id"], state) { site, environment in
                let envID = environment.id
                return .start(scope: .environments(site: site.id, [envID]), target: envID) { state, doneAt in
                    state.nextBackupID += 1
                    let backup = SimBackup(
                        id: state.nextBackupID,
                        name: "Manual backup",
                        note: tag,
                        type: "manual",
                        createdAt: doneAt
                    )
                    state.updateEnvironment(envID) { $0.backups.append(backup) }
                    return nil
                }
            }
        },
        SimWrite(
            kind: "backup.delete",
            method: .delete,
            path: "/sites/environments/backups/{backup_id}",
            prefix: "backups:remove-",
            pathSchema: ["backup_id": .number()],
            duration: tools
        ) { _, call, _, state in
            let backupID = Int(Double(call["backup_id"]) ?? -1)
            guard
                let site = state.sites.first(where: {
                    $0.environments.contains { $0.backups.contains { $0.id == backupID } }
                }),
                let environment = site.environments.first(where: { $0.backups.contains { $0.id == backupID } })
            else { return .refuse(.notFound) }
            return change(site, environment) { $0.backups.removeAll { $0.id == backupID } }
        },
    ]

    // MARK: Tools, caches, PHP

    static let toolWrites: [SimWrite] = [
        SimWrite(
            kind: "cache.clear",
            method: .post,
            path: "/sites/tools/clear-cache",
            prefix: "cache:clear-",
            body: environmentIDBody,
            duration: tools
        ) { _, _, body, state in onEnvironment(body["environment_id"]?.string ?? "", state, touch) },
        SimWrite(
            kind: "php.restart",
            method: .post,
            path: "/sites/tools/restart-php",
            prefix: "container:restart-php-",
            body: environmentIDBody,
            duration: tools
        ) { _, _, body, state in onEnvironment(body["environment_id"]?.string ?? "", state, touch) },
        SimWrite(
            kind: "php.set_version",
            method: .put,
            path: "/sites/tools/modify-php-version",
            prefix: "php:modify-version-",
            body: .object([
                .required("environment_id", .text), .required("php_version", .text),
                .optional("is_opt_out_from_automatic_php_update", .boolean),
            ]),
            duration: tools
        ) { _, _, body, state in
            let version = body["php_version"]?.string ?? ""
            let optOut = body["is_opt_out_from_automatic_php_update"]?.bool
            return onEnvironment(body["environment_id"]?.string ?? "", state) { site, environment in
                change(site, environment) {
                    $0.phpVersion = version
                    if let optOut { $0.isOptOutFromAutomaticPHPUpdate = optOut }
                }
            }
        },
        SimWrite(
            kind: "edge_cache.clear",
            method: .post,
            path: "/sites/edge-caching/clear",
            prefix: "edgeCache:clear-",
            body: .object([
                .required("environment_id", .text), .optional("clear_subdirectories", .boolean),
                .optional("url", .text),
            ]),
            duration: tools
        ) { _, _, body, state in onEnvironment(body["environment_id"]?.string ?? "", state, touch) },
        SimWrite(
            kind: "edge_cache.set_status",
            method: .put,
            path: "/sites/edge-caching/status",
            prefix: "edge-cache:update-status-",
            body: .object([.required("environment_id", .text), .required("enabled", .boolean)]),
            duration: tools
        ) { _, _, body, state in
            let enabled = body["enabled"]?.bool ?? false
            return onEnvironment(body["environment_id"]?.string ?? "", state) { site, environment in
                change(site, environment) { $0.edgeCacheEnabled = enabled }
            }
        },
        SimWrite(
            kind: "cdn_cache.clear",
            method: .post,
            path: "/sites/cdn/clear-cache",
            prefix: "cdn-cache:clear-",
            body: .object([.required("environment_id", .text), .required("cdn_cache_id", .text)]),
            duration: tools
        ) { _, _, body, state in
            let cdn = body["cdn_cache_id"]?.string
            return onEnvironment(body["environment_id"]?.string ?? "", state) { site, environment in
                environment.cdnCacheID == cdn ? touch(site, environment) : .refuse(.notFound)
            }
        },
        SimWrite(
            kind: "cdn.set_image_optimization",
            method: .put,
            path: "/sites/cdn/image-optimization",
            prefix: "cdn:update-image-optimization-",
            body: .object([
                .required("environment_id", .text),
                .required("image_optimization_type", .string(values: ["off", "lossy", "lossless"])),
            ]),
            duration: tools
        ) { _, _, body, state in
            let type = body["image_optimization_type"]?.string ?? "off"
            return onEnvironment(body["environment_id"]?.string ?? "", state) { site, environment in
                change(site, environment) { $0.imageOptimization = type }
            }
        },
        SimWrite(
            kind: "wpcli.run",
            method: .post,
            path: "/sites/environments/{env_id}/run-wp-cli-command",
            prefix: "cli:run-wp-cli-",
            pathSchema: ["env_id": .uuid],
            body: .object([
                .required("wp_command", .string(pattern: #"^wp\s+[a-zA-Z0-9_\-./:=@'\s]+$"#, maxLength: 5000))
            ]),
            duration: tools
        ) { _, call, body, state in
            let command = body["wp_command"]?.string ?? ""
            return onEnvironment(call["env_id"], state) { site, environment in
                change(site, environment) { $0.wpCLICommands.append(command) }
            }
        },
    ]

    // MARK: Domains and DNS

    static let domainWrites: [SimWrite] = [
        SimWrite(
            kind: "domain.add",
            method: .post,
            path: "/sites/environments/{env_id}/domains",
            prefix: "sites:add-domain-",
            body: .object([
                .required("domain_name", .text), .optional("is_wildcardless", .boolean),
                .optional("custom_ssl_key", .text), .optional("custom_ssl_cert", .text),
            ]),
            duration: tools
        ) { _, call, body, state in
            let name = body["domain_name"]?.string ?? ""
            return onEnvironment(call["env_id"], state) { site, environment in
                guard !name.isEmpty else { return .refuse(.badRequest("\"domain_name\" is not allowed to be empty")) }
                let used = state.sites.contains { $0.environments.contains { $0.domains.contains { $0.name == name } } }
                guard !used else { return .refuse(.badRequest("The domain is already added to a site")) }
                let envID = environment.id
                return .start(scope: .environments(site: site.id, [envID]), target: envID) { state, _ in
                    let domain = SimDomain(id: state.idRandom.uuid(), name: name, type: "custom")
                    state.updateEnvironment(envID) { $0.domains.append(domain) }
                    return nil
                }
            }
        },
        SimWrite(
            kind: "domain.delete",
            method: .delete,
            path: "/sites/environments/{env_id}/domains",
            prefix: "sites:delete-domain-",
            body: .object([.required("domain_ids", .strings)]),
            duration: tools
        ) { _, call, body, state in
            let ids = body["domain_ids"]?.strings ?? []
            return onEnvironment(call["env_id"], state) { site, environment in
                guard !ids.isEmpty else { return .refuse(.badRequest("\"domain_ids\" must contain at least 1 items")) }
                guard ids.allSatisfy({ id in environment.domains.contains { $0.id == id } }) else {
                    return .refuse(.notFound)
                }
                guard !ids.contains(environment.primaryDomainID) else {
                    return .refuse(.badRequest("The primary domain can't be deleted"))
                }
                return change(site, environment) { $0.domains.removeAll { ids.contains($0.id) } }
            }
        },
        SimWrite(
            kind: "domain.set_primary",
            method: .put,
            path: "/sites/environments/{env_id}/change-primary-domain",
            prefix: "sites:change-primary-domain-",
            body: .object([.required("domain_id", .text), .required("run_search_and_replace", .boolean)]),
            duration: tools
        ) { _, call, body, state in
            let id = body["domain_id"]?.string ?? ""
            return onEnvironment(call["env_id"], state) { site, environment in
                guard environment.domains.contains(where: { $0.id == id }) else { return .refuse(.notFound) }
                return change(site, environment) { $0.primaryDomainID = id }
            }
        },
        SimWrite(
            kind: "dns_record.create",
            method: .post,
            path: "/domains/{domain_id}/dns-records",
            prefix: "domains:create-dns-record-",
            pathSchema: ["domain_id": .uuid],
            body: .object([
                .required("type", .text), .required("name", .text), .required("ttl", .number(minimum: 300)),
                .required("resource_records", dnsRecordValues),
            ]),
            duration: tools
        ) { _, call, body, state in
            let record = SimDNSRecord(
                type: body["type"]?.string ?? "",
                name: body["name"]?.string ?? "",
                ttl: body["ttl"]?.number ?? 3600,
                values: body["resource_records"]?.array?.compactMap { $0["value"]?.string } ?? []
            )
            return onDNSDomain(call["domain_id"], state) { domain in
                guard !domain.records.contains(where: { $0.type == record.type && $0.name == record.name }) else {
                    return .refuse(.badRequest("A record with this type and name already exists"))
                }
                return changeDNS(domain.id) { $0.records.append(record) }
            }
        },
        SimWrite(
            kind: "dns_record.update",
            method: .put,
            path: "/domains/{domain_id}/dns-records",
            prefix: "domains:update-dns-record-",
            pathSchema: ["domain_id": .uuid],
            body: .object([
                .required("type", .text), .required("name", .text), .optional("ttl", .number(minimum: 300)),
                .optional("new_resource_records", dnsRecordValues),
                .optional("removed_resource_records", dnsRecordValues),
            ]),
            duration: tools
        ) { _, call, body, state in
            let type = body["type"]?.string ?? ""
            let name = body["name"]?.string ?? ""
            let ttl = body["ttl"]?.number
            let added = body["new_resource_records"]?.array?.compactMap { $0["value"]?.string } ?? []
            let removed = body["removed_resource_records"]?.array?.compactMap { $0["value"]?.string } ?? []
            return onDNSDomain(call["domain_id"], state) { domain in
                guard domain.records.contains(where: { $0.type == type && $0.name == name }) else {
                    return .refuse(.notFound)
                }
                return changeDNS(domain.id) { domain in
                    for index in domain.records.indices
                    where domain.records[index].type == type && domain.records[index].name == name {
                        if let ttl { domain.records[index].ttl = ttl }
                        domain.records[index].values.removeAll { removed.contains($0) }
                        domain.records[index].values += added.filter { !domain.records[index].values.contains($0) }
                    }
                }
            }
        },
        SimWrite(
            kind: "dns_record.delete",
            method: .delete,
            path: "/domains/{domain_id}/dns-records",
            prefix: "domains:delete-dns-record-",
            pathSchema: ["domain_id": .uuid],
            body: .object([.required("type", .text), .required("name", .text)]),
            duration: tools
        ) { _, call, body, state in
            let type = body["type"]?.string ?? ""
            let name = body["name"]?.string ?? ""
            return onDNSDomain(call["domain_id"], state) { domain in
                guard domain.records.contains(where: { $0.type == type && $0.name == name }) else {
                    return .refuse(.notFound)
                }
                return changeDNS(domain.id) { $0.records.removeAll { $0.type == type && $0.name == name } }
            }
        },
    ]

    static func onDNSDomain(_ id: String, _ state: SimulatorState, _ body: (SimDNSDomain) -> SimPlan) -> SimPlan {
        guard let domain = state.dnsDomains.first(where: { $0.id == id }) else { return .refuse(.notFound) }
        return body(domain)
    }

    /// A DNS change: it occupies no site or environment.
    static func changeDNS(_ id: String, _ edit: @escaping @Sendable (inout SimDNSDomain) -> Void) -> SimPlan {
        .start(scope: .none, target: id) { state, _ in
            if let index = state.dnsDomains.firstIndex(where: { $0.id == id }) { edit(&state.dnsDomains[index]) }
            return nil
        }
    }

    // MARK: Plugins and themes

    static let extensionWrites: [SimWrite] = [
        extensionUpdate(kind: "plugin.update", path: "plugins", prefix: "wp-plugin:update-", plugins: true),
        extensionBulkUpdate(
            kind: "plugin.bulk_update",
            path: "plugins",
            member: "plugins",
            prefix: "wp-plugins:bulk-update-",
            plugins: true
        ),
        extensionUpdate(kind: "theme.update", path: "themes", prefix: "wp-theme:update-", plugins: false),
        extensionBulkUpdate(
            kind: "theme.bulk_update",
            path: "themes",
            member: "themes",
            prefix: "wp-themes:bulk-update-",
            plugins: false
        ),
    ]

    static func extensionUpdate(
        kind: String,
        path: String,
        prefix: String,
        plugins: Bool
    ) -> SimWrite {
        SimWrite(
            kind: kind,
            method: .put,
            path: "/sites/environments/{env_id}/\(path)",
            prefix: prefix,
            body: .object([.required("name", .text), .required("update_version", .text)]),
            duration: tools
        ) { _, call, body, state in
            let name = body["name"]?.string ?? ""
            let version = body["update_version"]?.string ?? ""
            return onEnvironment(call["env_id"], state) { site, environment in
                guard (plugins ? environment.plugins : environment.themes).contains(where: { $0.name == name }) else {
                    return .refuse(.notFound)
                }
                return change(site, environment) { environment in
                    editExtensions(&environment, plugins: plugins) { items in
                        for index in items.indices where items[index].name == name {
                            items[index].version = version
                            items[index].updateVersion = nil
                        }
                    }
                }
            }
        }
    }

    static func extensionBulkUpdate(
        kind: String,
        path: String,
        member: String,
        prefix: String,
        plugins: Bool
    ) -> SimWrite {
        SimWrite(
            kind: kind,
            method: .put,
            path: "/sites/environments/{env_id}/\(path)/bulk-update",
            prefix: prefix,
            status: 200,
            body: .object([.required(member, .array(of: .object([.required("name", .text)])))]),
            duration: tools
        ) { _, call, body, state in
            let names = body[member]?.array?.compactMap { $0["name"]?.string } ?? []
            return onEnvironment(call["env_id"], state) { site, environment in
                let items = plugins ? environment.plugins : environment.themes
                guard !names.isEmpty, names.allSatisfy({ name in items.contains { $0.name == name } }) else {
                    return .refuse(.notFound)
                }
                return change(site, environment) { environment in
                    editExtensions(&environment, plugins: plugins) { items in
                        for index in items.indices where names.contains(items[index].name) {
                            if let update = items[index].updateVersion { items[index].version = update }
                            items[index].updateVersion = nil
                        }
                    }
                }
            }
        }
    }

    static func editExtensions(
        _ environment: inout SimEnvironment,
        plugins: Bool,
        _ edit: (inout [SimExtension]) -> Void
    ) {
        if plugins { edit(&environment.plugins) } else { edit(&environment.themes) }
    }

    // MARK: SFTP accounts

    static let settingWrites: [SimWrite] = [
        SimWrite(
            kind: "sftp_account.add",
            method: .post,
            path: "/sites/environments/{env_id}/additional-sftp-accounts",
            prefix: "sftp-accounts:add-additional-sftp-account-",
            status: 200,
            body: .object([
                .required("username", .text), .required("password", .string(minLength: 16)),
                .optional("root_directory", .text), .optional("permission", .string(values: ["read", "write"])),
            ]),
            duration: tools
        ) { _, call, body, state in
            let username = body["username"]?.string ?? ""
            let root = body["root_directory"]?.string ?? "/"
            let permission = body["permission"]?.string ?? "read"
            return onEnvironment(call["env_id"], state) { site, environment in
                guard !environment.sftpAccounts.contains(where: { $0.username == username }) else {
                    return .refuse(.badRequest("The username is already used"))
                }
                let envID = environment.id
                return .start(scope: .environments(site: site.id, [envID]), target: envID) { state, _ in
                    let account = SimSFTPAccount(
                        id: state.idRandom.uuid(),
                        username: username,
                        rootDirectory: root,
                        permission: permission,
                        isActive: true
                    )
                    state.updateEnvironment(envID) { $0.sftpAccounts.append(account) }
                    return nil
                }
            }
        },
        SimWrite(
            kind: "sftp_account.set_status",
            method: .put,
            path: "/sites/environments/{env_id}/additional-sftp-accounts/toggle-status",
            prefix: "sftp-accounts:toggle-status-",
            body: .object([.required("enabled", .boolean)]),
            duration: tools
        ) { _, call, body, state in
            let enabled = body["enabled"]?.bool ?? false
            return onEnvironment(call["env_id"], state) { site, environment in
                change(site, environment) { $0.sftpAccountsEnabled = enabled }
            }
        },
        SimWrite(
            kind: "sftp_account.delete",
            method: .delete,
            path: "/sites/environments/additional-sftp-accounts/{sftp_account_id}",
            prefix: "sftp-accounts:remove-additional-sftp-account-",
            duration: tools
        ) { _, call, _, state in
            let id = call["sftp_account_id"]
            guard
                let site = state.sites.first(where: {
                    $0.environments.contains { $0.sftpAccounts.contains { $0.id == id } }
                }),
                let environment = site.environments.first(where: { $0.sftpAccounts.contains { $0.id == id } })
            else { return .refuse(.notFound) }
            return change(site, environment) { $0.sftpAccounts.removeAll { $0.id == id } }
        },
    ]
}
