extension JobCatalog {
    static let environments: [JobKindSpec] = [
        JobKindSpec(
            "environment.create",
            "Add a WordPress environment to a site",
            parameters: [
                CommonParams.siteID, CommonParams.displayName("environment"), CommonParams.siteTitle,
                CommonParams.isPremium, CommonParams.adminEmail, CommonParams.adminPassword, CommonParams.adminUser,
                CommonParams.wpLanguage, CommonParams.isMultisite, CommonParams.isSubdomainMultisite,
                CommonParams.woocommerce,
                ParamSpec("wordpress_plugin_edd", .boolean, help: "Install Easy Digital Downloads"),
                CommonParams.wordpressSEO,
            ],
            call: "POST",
            "/sites/{site_id}/environments",
            targets: [.site("site_id")],
            outputs: environmentOutputs,
            settle: .environmentNamed(site: "site_id", name: "display_name"),
            deadline: 30 * Timing.minute,
            typical: 60...300,
            subject: "display_name",
            check: CommonParams.multisiteRule
        ),
        JobKindSpec(
            "environment.create_plain",
            "Add an environment without WordPress to a site",
            parameters: [CommonParams.siteID, CommonParams.displayName("environment"), CommonParams.isPremium],
            call: "POST",
            "/sites/{site_id}/environments/plain",
            targets: [.site("site_id")],
            outputs: environmentOutputs,
            settle: .environmentNamed(site: "site_id", name: "display_name"),
            deadline: 30 * Timing.minute,
            typical: 30...120,
            subject: "display_name"
        ),
        JobKindSpec(
            "environment.clone",
            "Add an environment to a site as a copy of another",
            parameters: [
                CommonParams.siteID, CommonParams.displayName("environment"), CommonParams.isPremium,
                ParamSpec("source_env_id", .identifier, required: true, help: "Environment to copy"),
            ],
            call: "POST",
            "/sites/{site_id}/environments/clone",
            targets: [.site("site_id"), .environment("source_env_id")],
            outputs: environmentOutputs,
            settle: .environmentNamed(site: "site_id", name: "display_name"),
            deadline: 30 * Timing.minute,
            typical: 120...480,
            subject: "display_name"
        ),
        JobKindSpec(
            "environment.push",
            "Push one environment onto another (staging to live)",
            parameters: [
                CommonParams.siteID,
                ParamSpec("source_env_id", .identifier, required: true, help: "Environment to push from"),
                ParamSpec("target_env_id", .identifier, required: true, help: "Environment to push onto"),
                ParamSpec("push_db", .boolean, help: "Push the database (Kinsta's default: true)"),
                ParamSpec("push_files", .boolean, help: "Push the files (Kinsta's default: true)"),
                ParamSpec("run_search_and_replace", .boolean, help: "Replace the domain (Kinsta's default: true)"),
                ParamSpec(
                    "push_files_option",
                    .oneOf(["ALL_FILES", "SPECIFIC_FILES"]),
                    help: "ALL_FILES (Kinsta's default) or SPECIFIC_FILES"
                ),
                ParamSpec("file_list", .list(.text, wrap: nil), help: "Paths to push with SPECIFIC_FILES"),
            ],
            call: "PUT",
            "/sites/{site_id}/environments",
            targets: [.environment("source_env_id"), .environment("target_env_id")],
            outputs: [OutputSpec("env_id", param: "target_env_id", help: "The environment pushed onto")],
            settle: .attention(
                "a push leaves nothing Kinsta's API can read, and pushing again would overwrite the target again: "
                    + "check the target environment in MyKinsta, then retry the job or leave it"
            ),
            deadline: 45 * Timing.minute,
            typical: 60...480,
            subject: "target_env_id",
            check: { values, _ throws(ValidationError) in
                if values["source_env_id"] == values["target_env_id"] {
                    throw ValidationError(field: "target_env_id", "an environment cannot be pushed onto itself")
                }
                if values["file_list"] != nil, values["push_files_option"] != .string("SPECIFIC_FILES") {
                    throw ValidationError(field: "file_list", "file_list needs push_files_option SPECIFIC_FILES")
                }
            }
        ),
        JobKindSpec(
            "environment.delete",
            "Delete an environment",
            parameters: [ParamSpec("env_id", .identifier, required: true, help: "Environment to delete")],
            call: "DELETE",
            "/sites/environments/{env_id}",
            targets: [.environment("env_id")],
            settle: .environmentGone(param: "env_id"),
            resubmitIsHarmless: true,
            deadline: 15 * Timing.minute,
            typical: 20...180
        ),
        JobKindSpec(
            "environment.set_php_allocation",
            "Change an environment's PHP threads and memory",
            parameters: [CommonParams.envID, CommonParams.threadCount, CommonParams.threadMemory],
            call: "POST",
            "/sites/environments/{env_id}/change-environment-php-allocation",
            targets: [.environment("env_id")],
            settle: .resend,
            deadline: 15 * Timing.minute,
            typical: 10...120
        ),
        JobKindSpec(
            "environment.set_webroot",
            "Serve an environment from a subfolder",
            parameters: [
                CommonParams.envID,
                ParamSpec(
                    "web_root_subfolder",
                    .subfolder,
                    required: true,
                    help: "Subfolder of public/ to serve, e.g. /app"
                ),
                ParamSpec("clear_all_cache", .boolean, help: "Clear every cache afterwards"),
                ParamSpec("refresh_plugins_and_themes", .boolean, help: "Refresh plugins and themes afterwards"),
            ],
            call: "POST",
            "/sites/environments/{env_id}/change-webroot-subfolder",
            targets: [.environment("env_id")],
            settle: .resend,
            deadline: 15 * Timing.minute,
            typical: 10...120
        ),
    ]

    /// What an environment create learns: the environment a read found by its display name (or Kinsta's `idEnv`).
    static let environmentOutputs = [OutputSpec("env_id", from: ["idEnv", "env_id"], help: "The new environment")]
}
