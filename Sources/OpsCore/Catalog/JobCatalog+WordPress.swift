extension JobCatalog {
    /// Plugins, themes, WP-CLI and SFTP accounts of an environment.
    static let wordPress: [JobKindSpec] = [
        update("plugin", plural: "plugins"),
        bulkUpdate("plugin", plural: "plugins"),
        update("theme", plural: "themes"),
        bulkUpdate("theme", plural: "themes"),
        JobKindSpec(
            "wpcli.run",
            "Run a WP-CLI command in an environment",
            parameters: [
                ParamSpec("env_id", .uuid, required: true, help: "The environment (a UUID)"),
                ParamSpec("wp_command", .wpCommand, required: true, help: "The command, e.g. wp core version"),
            ],
            call: "POST",
            "/sites/environments/{env_id}/run-wp-cli-command",
            targets: [.environment("env_id")],
            settle: .attention(
                "the daemon cannot read whether a WP-CLI command ran, and running it twice may not be harmless: "
                    + "check the environment, then retry the job or leave it"
            ),
            deadline: 15 * Timing.minute,
            typical: 3...120,
            subject: "wp_command"
        ),
        JobKindSpec(
            "sftp_account.add",
            "Add an SFTP account to an environment",
            parameters: [
                CommonParams.envID,
                ParamSpec("username", .identifier, required: true, help: "The account's user name"),
                ParamSpec(
                    "password",
                    .text,
                    required: true,
                    secret: true,
                    help: "Its password (≥ 16 characters; secret)"
                ),
                ParamSpec("root_directory", .text, help: "Directory it sees (Kinsta's default: /)"),
                ParamSpec("permission", .oneOf(["read", "write"]), help: "read (Kinsta's default) or write"),
            ],
            call: "POST",
            "/sites/environments/{env_id}/additional-sftp-accounts",
            acceptedStatus: 200,
            targets: [.environment("env_id")],
            settle: .attention(
                "the daemon does not read SFTP accounts back: check the environment's SFTP accounts in MyKinsta, then "
                    + "retry the job or leave it"
            ),
            deadline: Timing.toolDeadline,
            typical: Timing.tool,
            subject: "username",
            check: { values, _ throws(ValidationError) in
                if let password = values["password"]?.stringValue, password.count < 16 {
                    throw ValidationError(field: "password", "password must be at least 16 characters")
                }
            }
        ),
        JobKindSpec(
            "sftp_account.delete",
            "Remove an SFTP account",
            parameters: [ParamSpec("sftp_account_id", .identifier, required: true, help: "The account (its ID)")],
            call: "DELETE",
            "/sites/environments/additional-sftp-accounts/{sftp_account_id}",
            targets: [.resource(prefix: "sftp", param: "sftp_account_id")],
            settle: .resend,
            deadline: Timing.toolDeadline,
            typical: Timing.tool
        ),
        JobKindSpec(
            "sftp.set_status",
            "Turn an environment's additional SFTP accounts on or off",
            parameters: [CommonParams.envID, ParamSpec("enabled", .boolean, required: true, help: "On or off")],
            call: "PUT",
            "/sites/environments/{env_id}/additional-sftp-accounts/toggle-status",
            targets: [.environment("env_id")],
            settle: .resend,
            deadline: Timing.toolDeadline,
            typical: Timing.tool
        ),
    ]

    /// `plugin.update` / `theme.update`: one to a given version.
    private static func update(_ noun: String, plural: String) -> JobKindSpec {
        JobKindSpec(
            "\(noun).update",
            "Update one \(noun) of an environment",
            parameters: [
                CommonParams.envID,
                ParamSpec("name", .text, required: true, help: "The \(noun)'s name, e.g. akismet"),
                ParamSpec("update_version", .text, required: true, help: "The version to update to"),
            ],
            call: "PUT",
            "/sites/environments/{env_id}/\(plural)",
            targets: [.environment("env_id")],
            // Updating to the version it has is a no-op.
            settle: .resend,
            deadline: 15 * Timing.minute,
            typical: 5...120,
            subject: "name"
        )
    }

    /// `plugin.bulk_update` / `theme.bulk_update`: several to their latest versions (Kinsta answers 200).
    private static func bulkUpdate(_ noun: String, plural: String) -> JobKindSpec {
        JobKindSpec(
            "\(noun).bulk_update",
            "Update several \(plural) of an environment",
            parameters: [
                CommonParams.envID,
                ParamSpec(plural, .list(.text, wrap: "name"), required: true, help: "The \(plural)' names"),
            ],
            call: "PUT",
            "/sites/environments/{env_id}/\(plural)/bulk-update",
            acceptedStatus: 200,
            targets: [.environment("env_id")],
            settle: .resend,
            deadline: 30 * Timing.minute,
            typical: 10...300
        )
    }
}
