extension JobCatalog {
    static let sites: [JobKindSpec] = [
        JobKindSpec(
            "site.create",
            "Create a WordPress site",
            parameters: [
                CommonParams.company, CommonParams.displayName("site"), CommonParams.region,
                CommonParams.adminEmail, CommonParams.adminPassword, CommonParams.adminUser, CommonParams.siteTitle,
                CommonParams.wpLanguage, CommonParams.isMultisite, CommonParams.isSubdomainMultisite,
                CommonParams.woocommerce, CommonParams.wordpressSEO,
                ParamSpec("install_mode", .oneOf(["new", "plain"]), default: "new", help: "new (WordPress) or plain"),
            ],
            call: "POST",
            "/sites",
            targets: [.siteNamed("display_name")],
            outputs: siteOutputs,
            settle: .siteNamed(param: "display_name"),
            deadline: 30 * Timing.minute,
            typical: 60...300,
            check: CommonParams.multisiteRule
        ),
        JobKindSpec(
            "site.create_plain",
            "Create a site without WordPress",
            parameters: [CommonParams.company, CommonParams.displayName("site"), CommonParams.region],
            call: "POST",
            "/sites/plain",
            targets: [.siteNamed("display_name")],
            outputs: siteOutputs,
            settle: .siteNamed(param: "display_name"),
            deadline: 30 * Timing.minute,
            typical: 30...120
        ),
        JobKindSpec(
            "site.clone",
            "Create a site as a copy of an environment",
            parameters: [
                CommonParams.company, CommonParams.displayName("site"),
                ParamSpec("source_env_id", .identifier, required: true, help: "Environment to clone"),
            ],
            call: "POST",
            "/sites/clone",
            targets: [.siteNamed("display_name"), .environment("source_env_id")],
            outputs: siteOutputs,
            settle: .siteNamed(param: "display_name"),
            deadline: 30 * Timing.minute,
            typical: 120...480
        ),
        JobKindSpec(
            "site.delete",
            "Delete a site and all its environments",
            parameters: [ParamSpec("site_id", .identifier, required: true, help: "Site to delete")],
            call: "DELETE",
            "/sites/{site_id}",
            targets: [.site("site_id")],
            settle: .siteGone(param: "site_id"),
            resubmitIsHarmless: true,
            deadline: 15 * Timing.minute,
            typical: 20...180
        ),
        JobKindSpec(
            "site.reset",
            "Reset a site to a fresh WordPress install",
            parameters: [CommonParams.siteID, CommonParams.adminPassword],
            call: "POST",
            "/sites/{site_id}/reset-site",
            targets: [.site("site_id")],
            settle: .attention(
                "a reset leaves nothing Kinsta's API can read, and a second one would wipe the site again: check the "
                    + "site in MyKinsta, then retry the job or leave it"
            ),
            deadline: 30 * Timing.minute,
            typical: 60...300
        ),
        JobKindSpec(
            "site.set_php_allocation",
            "Change a site's PHP threads and memory",
            parameters: [CommonParams.siteID, CommonParams.threadCount, CommonParams.threadMemory],
            call: "POST",
            "/sites/{site_id}/change-site-php-allocation",
            targets: [.site("site_id")],
            settle: .resend,
            deadline: 15 * Timing.minute,
            typical: 10...120
        ),
    ]

    /// What a site create learns: Kinsta's `idSite`/`idEnv` in the operation's data, or the site a read found.
    static let siteOutputs = [
        OutputSpec("site_id", from: ["idSite", "site_id"], help: "The new site"),
        OutputSpec("env_id", from: ["idEnv", "env_id"], help: "Its live environment"),
    ]
}
