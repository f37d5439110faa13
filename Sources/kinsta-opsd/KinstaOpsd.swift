import ArgumentParser
import Foundation
import Logging
import OpsCore
import OpsDaemon

/// `kinsta-opsd`: the daemon. Parses flags, loads the configuration and runs ``Daemon``; nothing else lives here.
@main
struct KinstaOpsd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinsta-opsd",
        abstract: "Carries Kinsta hosting jobs to their end: submit, poll, record, report.",
        discussion: """
            The Kinsta API key, the first found of:
              1. the systemd credential kinsta-api-key (LoadCredential= in the unit)
              2. [kinsta] api_key_file in the configuration
              3. $KINSTA_API_KEY
              4. a file kinsta-api-key beside the configuration file
              5. [kinsta] api_key inline (in a configuration of mode 0600 only)

            Environment (each one wins over its configuration key):
              KINSTA_API_KEY           the API key (above)
              KINSTA_API_BASE_URL      [kinsta] api_base_url
              KINSTA_COMPANY_ID        [kinsta] company_id
              KINSTA_NOTIFIED_USER_ID  [kinsta] notified_user_id
              KINSTA_OPSD_STATE_DIR    [daemon] state_dir (holds the database)
              KINSTA_OPSD_SOCKET       [daemon] socket
              KINSTA_OPSD_LOG_LEVEL    [daemon] log_level
            From systemd: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID,
            JOURNAL_STREAM and CREDENTIALS_DIRECTORY.

            check-config validates the configuration and prints the settings
            in effect as TOML (secrets as comments). SIGHUP reloads the
            configuration; SIGTERM stops once the jobs in hand are recorded.
            """,
        version: OpsVersion.current,
        subcommands: [Run.self, CheckConfig.self],
        defaultSubcommand: Run.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default \(ConfigLoader.defaultPath); absent means all defaults).")
    var config: String?

    func load() throws -> DaemonConfiguration {
        do {
            return try ConfigLoader().load(path: config)
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("kinsta-opsd: \(error.message)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon (the default).")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try options.load()
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: level) }
        let logger = Logger(label: "kinsta-opsd")
        let metrics = DaemonMetrics()
        metrics.bootstrapSwiftMetrics()
        var daemon = Daemon(configuration: configuration, logger: logger, metrics: metrics)
        let path = options.config
        daemon.reload = { try ConfigLoader().load(path: path) }
        do {
            try await daemon.run()
        } catch let error as DaemonError {
            logger.critical("cannot start", metadata: ["reason": "\(error.message)"])
            throw ExitCode(1)
        }
    }
}

/// Validates the configuration and prints the effective settings, secrets redacted.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print the effective settings."
    )

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try options.load()
        print(configuration.redactedSummary)
        print("\n# configuration is valid")
    }
}
