extension JobCatalog {
    static let backups: [JobKindSpec] = [
        JobKindSpec(
            "backup.restore",
            "Restore a backup into an environment",
            parameters: [
                ParamSpec("target_env_id", .identifier, required: true, help: "Environment to restore into"),
                ParamSpec("backup_id", .integer, required: true, help: "Backup to restore (a number)"),
                ParamSpec(
                    "notified_user_id",
                    .uuid,
                    configured: .notifiedUser,
                    help: "User Kinsta notifies (a UUID; `kinsta-ops users` lists them; defaults to the configured one)"
                ),
                ParamSpec(
                    "env_display_name_of_backup",
                    .text,
                    help: "Environment name of the backup (the older body; with restore_body = \"legacy\")"
                ),
            ],
            call: "POST",
            "/sites/environments/{target_env_id}/backups/restore",
            targets: [.environment("target_env_id")],
            settle: .attention(
                "a restore leaves nothing Kinsta's API can read, and a second one would overwrite the environment "
                    + "again: check the environment in MyKinsta, then retry the job or leave it"
            ),
            deadline: 15 * Timing.minute,
            typical: 20...180,
            check: { values, defaults throws(ValidationError) in
                let current = values["notified_user_id"] != nil
                let older = values["env_display_name_of_backup"] != nil
                if defaults.legacyRestoreBody {
                    guard older, !current else {
                        throw ValidationError(
                            field: "env_display_name_of_backup",
                            "with restore_body = \"legacy\", backup.restore takes env_display_name_of_backup "
                                + "and not notified_user_id"
                        )
                    }
                } else {
                    guard current else {
                        throw ValidationError(
                            field: "notified_user_id",
                            "backup.restore needs notified_user_id (a UUID from `kinsta-ops users`), and none is "
                                + "configured"
                        )
                    }
                    guard !older else {
                        throw ValidationError(
                            field: "env_display_name_of_backup",
                            "env_display_name_of_backup is the older restore body, sent only with "
                                + "restore_body = \"legacy\" in the configuration"
                        )
                    }
                }
            }
        ),
        JobKindSpec(
            "backup.create",
            "Take a manual backup of an environment",
            parameters: [
                CommonParams.envID,
                ParamSpec(
                    "tag",
                    .text,
                    help: "A note kept with the backup (the daemon adds the job's number, to find it again)"
                ),
            ],
            call: "POST",
            "/sites/environments/{env_id}/manual-backups",
            targets: [.environment("env_id")],
            outputs: [OutputSpec("backup_id", from: ["backup_id"], help: "The new backup")],
            settle: .backupTagged(environment: "env_id", tag: "tag"),
            deadline: 30 * Timing.minute,
            typical: 30...180
        ),
        JobKindSpec(
            "backup.delete",
            "Delete a backup",
            parameters: [ParamSpec("backup_id", .integer, required: true, help: "Backup to delete (a number)")],
            call: "DELETE",
            "/sites/environments/backups/{backup_id}",
            targets: [.resource(prefix: "backup", param: "backup_id")],
            settle: .resend,
            deadline: 10 * Timing.minute,
            typical: 5...60
        ),
    ]
}
