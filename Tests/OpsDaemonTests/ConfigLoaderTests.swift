import Foundation
import KinstaClient
import OpsCore
import OpsDaemon
import OpsWebhooks
import Testing

/// The configuration: TOML file, environment, credentials; every mistake named with its key and line.
@Suite struct ConfigLoaderTests {
    /// Writes `text` to a fresh file with `mode` and returns its path.
    func file(_ text: String, mode: Int = 0o600) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("kinsta-opsd.toml").path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    let env = ["KINSTA_API_KEY": "key-from-env"]

    @Test func environmentAloneIsEnough() throws {
        let loader = ConfigLoader(
            environment: env.merging([
                "KINSTA_API_BASE_URL": "http://127.0.0.1:9/v2", "KINSTA_COMPANY_ID": "c1",
                "KINSTA_OPSD_STATE_DIR": "/tmp/state", "KINSTA_OPSD_SOCKET": "/tmp/x.sock",
            ]) { $1 }
        )
        // No file at the default path: all defaults plus the environment
        let configuration = try loader.load(path: nil)
        #expect(configuration.kinsta.baseURL == "http://127.0.0.1:9/v2")
        #expect(configuration.companyID == "c1")
        #expect(configuration.stateDirectory == "/tmp/state")
        #expect(configuration.socketPath == "/tmp/x.sock")
        #expect(configuration.apiKeySource == "KINSTA_API_KEY")
        #expect(configuration.pollPolicy.startupWindow == 60)
        #expect(configuration.maxInFlight == 8)
    }

    @Test func shippedExampleFileIsValidAndMatchesTheDefaults() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/kinsta-opsd.toml").path
        let fromFile = try ConfigLoader(environment: env).load(path: shipped)
        let defaults = try ConfigLoader(environment: env).load(path: nil)
        #expect(fromFile.redactedSummary == defaults.redactedSummary)
    }

    /// `check-config` prints TOML: remarks are comments, whole numbers integers, secrets comment lines;
    /// read back, it is the same configuration.
    @Test func theSummaryIsTOMLThatReadsBackAsItself() throws {
        let first = try ConfigLoader(environment: env).load(
            path: try file(
                """
                [kinsta]
                company_id = "c \\"quoted\\" 1"
                requests_per_minute = 90.5
                [polling]
                adaptive = false
                first_poll_seconds = 4
                [[webhooks]]
                name = "chat"
                url = "https://hooks.slack.com/services/T/B/x"
                format = "slack"
                events = ["job.failed"]
                """
            )
        )
        let summary = first.redactedSummary
        #expect(summary.contains("first_poll_seconds = 4\n"))
        #expect(summary.contains("requests_per_minute = 90.5\n"))
        #expect(summary.contains("# api_key: [redacted], from KINSTA_API_KEY"))
        #expect(!summary.contains(" = ("))
        let second = try ConfigLoader(environment: env).load(path: try file(summary))
        #expect(second.redactedSummary == summary)
        #expect(second.companyID == #"c "quoted" 1"#)
    }

    @Test func fileSettingsApplyAndEnvironmentWins() throws {
        let path = try file(
            """
            [kinsta]
            api_base_url = "http://file.example/v2"
            company_id = "from-file"
            [polling]
            startup_window_seconds = 90
            jitter = 0
            [deadlines]
            site_delete = 120
            """
        )
        let configuration = try ConfigLoader(environment: env.merging(["KINSTA_COMPANY_ID": "from-env"]) { $1 })
            .load(path: path)
        #expect(configuration.kinsta.baseURL == "http://file.example/v2")
        #expect(configuration.companyID == "from-env")
        #expect(configuration.pollPolicy.startupWindow == 90)
        #expect(configuration.pollPolicy.pollBackoff.jitter == 0)
        #expect(configuration.pollPolicy.deadlines[.siteDelete] == 120)
    }

    @Test func adaptivePollingIsOnByDefaultAndConfigurable() throws {
        // Given no [polling] table, the learning schedule is on with its defaults
        let defaults = try ConfigLoader(environment: env).load(path: try file("")).pollPolicy.adaptive
        #expect(defaults == AdaptivePolling())
        #expect(defaults.enabled && defaults.minSpacing == 3 && defaults.maxSpacing == 20 && defaults.history == 500)
        // And each key sets its field; `adaptive = false` brings back the fixed schedule
        let path = try file(
            """
            [polling]
            adaptive = false
            adaptive_min_interval_seconds = 5
            adaptive_max_interval_seconds = 15
            adaptive_tradeoff = 2
            adaptive_history = 100
            """
        )
        let set = try ConfigLoader(environment: env).load(path: path)
        #expect(
            set.pollPolicy.adaptive
                == AdaptivePolling(
                    enabled: false,
                    minSpacing: 5,
                    maxSpacing: 15,
                    tradeoff: 2,
                    history: 100
                )
        )
        #expect(set.redactedSummary.contains("adaptive = false"))
        #expect(set.redactedSummary.contains("adaptive_max_interval_seconds = 15\n"))
    }

    struct Mistake: Sendable, CustomTestStringConvertible {
        var text: String
        var mentions: [String]
        var testDescription: String { mentions.joined(separator: " ") }
    }

    static let mistakes: [Mistake] = [
        Mistake(text: "[polling]\nstartup_window_secnds = 5\n", mentions: ["polling.startup_window_secnds", "line 2"]),
        Mistake(text: "[daemon]\nlog_level = \"info\"\n[kinstaa]\n", mentions: ["[kinstaa]", "line 3"]),
        Mistake(text: "[polling]\n\nmultiplier = \"fast\"\n", mentions: ["polling.multiplier", "number", "line 3"]),
        Mistake(text: "[daemon]\nmax_in_flight = 0\n", mentions: ["daemon.max_in_flight", "from 1"]),
        Mistake(text: "[daemon]\nsocket_mode = \"rw\"\n", mentions: ["socket_mode", "octal"]),
        Mistake(text: "[kinsta]\napi_base_url = \"ftp://x\"\n", mentions: ["api_base_url", "http"]),
        Mistake(text: "[daemon\nlog_level = 1\n", mentions: [":1:"]),
        Mistake(text: "[daemon]\nlog_level = \"loud\"\n", mentions: ["log_level", "loud"]),
        Mistake(text: "[polling]\nadaptive = \"yes\"\n", mentions: ["polling.adaptive", "true or false", "line 2"]),
        Mistake(
            text: "[polling]\nadaptive_max_interval_seconds = 0\n",
            mentions: ["adaptive_max_interval_seconds", "from 0.1"]
        ),
        Mistake(
            text: "[polling]\nadaptive_min_interval_seconds = 30\nadaptive_max_interval_seconds = 20\n",
            mentions: ["adaptive_min_interval_seconds", "above", "line 2"]
        ),
        Mistake(text: "[polling]\nadaptive_spacing = 3\n", mentions: ["polling.adaptive_spacing", "line 2"]),
    ]

    @Test(arguments: mistakes)
    func mistakesNameTheKeyAndLine(_ mistake: Mistake) throws {
        let path = try file(mistake.text)
        #expect {
            _ = try ConfigLoader(environment: env).load(path: path)
        } throws: { error in
            let message = (error as? ConfigError)?.message ?? ""
            return mistake.mentions.allSatisfy { message.contains($0) }
        }
    }

    @Test func aNamedFileMustExist() {
        #expect(throws: ConfigError.self) { _ = try ConfigLoader(environment: env).load(path: "/nonexistent/x.toml") }
    }

    @Test func apiKeyOrderAndInlineKeyNeedsAPrivateFile() throws {
        // A systemd credential beats everything
        let credentials = FileManager.default.temporaryDirectory.appendingPathComponent("cred-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try "key-from-credential\n".write(
            to: credentials.appendingPathComponent("kinsta-api-key"),
            atomically: false,
            encoding: .utf8
        )
        let withCredential = try ConfigLoader(
            environment: env.merging(["CREDENTIALS_DIRECTORY": credentials.path]) { $1 }
        )
        .load(path: nil)
        #expect(withCredential.kinsta.apiKey == "key-from-credential")
        #expect(!withCredential.redactedSummary.contains("key-from-credential"))

        // An inline key in a file others can read is refused
        let open = try file("[kinsta]\napi_key = \"inline-key\"\n", mode: 0o644)
        #expect(throws: ConfigError.self) { _ = try ConfigLoader(environment: [:]).load(path: open) }
        let closed = try file("[kinsta]\napi_key = \"inline-key\"\n", mode: 0o600)
        #expect(try ConfigLoader(environment: [:]).load(path: closed).kinsta.apiKey == "inline-key")

        // No key anywhere is a clear error
        #expect(throws: ConfigError.self) { _ = try ConfigLoader(environment: [:]).load(path: nil) }
    }

    @Test func theKeyFileBesideTheConfigurationIsFoundOutsideSystemd() throws {
        // Given the README's layout: a 0644 configuration, and the key in kinsta-api-key beside it (the file the unit
        // loads as its credential)
        let path = try file("[kinsta]\ncompany_id = \"c1\"\n", mode: 0o644)
        let beside = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("kinsta-api-key")
        try "key-beside\n".write(to: beside, atomically: false, encoding: .utf8)
        // Then check-config, run by hand with no credential and no KINSTA_API_KEY, finds it
        let configuration = try ConfigLoader(environment: [:]).load(path: path)
        #expect(configuration.kinsta.apiKey == "key-beside")
        #expect(configuration.apiKeySource == "\(beside.path) (beside the configuration)")
        // And the credential and the environment still come first
        #expect(try ConfigLoader(environment: env).load(path: path).kinsta.apiKey == "key-from-env")
    }
}

@Suite struct WebhookConfigTests {
    @Test func aSecretFileKeepsTheConfigurationReadableAndWarnsWhenItIsNot() throws {
        let secretPath = try ConfigLoaderTests().file("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", mode: 0o640)
        let text = "[[webhooks]]\nname = \"deploys\"\nurl = \"https://receiver.example/hook\"\n"
        // A 0644 configuration with the secret in a file of its own: read, shown redacted, no warning
        let readable = try ConfigLoaderTests().file(text + "secret_file = \"\(secretPath)\"\n", mode: 0o644)
        let configuration = try ConfigLoader(environment: ["KINSTA_API_KEY": "k"]).load(path: readable)
        #expect(configuration.webhooks.first?.secret != nil)
        #expect(!configuration.redactedSummary.contains("MfKQ9r8G"))
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
        // The same secret inline in a 0644 file: a warning that says where to move it
        let inline = try ConfigLoaderTests().file(
            text + "secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
            mode: 0o644
        )
        let warned = try ConfigLoader(environment: ["KINSTA_API_KEY": "k"]).load(path: inline)
        #expect(warned.warnings.contains { $0.contains("secret_file") }, "\(warned.warnings)")
        // A secret file every user can read: a warning too
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: secretPath)
        let loose = try ConfigLoader(environment: ["KINSTA_API_KEY": "k"]).load(path: readable)
        #expect(loose.warnings.contains { $0.contains("readable by every user") }, "\(loose.warnings)")
    }

    @Test func webhooksAreReadAndMistakesNamed() throws {
        let good = try ConfigLoaderTests().file(
            """
            [[webhooks]]
            name = "std"
            url = "https://receiver.example/hook"
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            events = ["job.succeeded", "failed"]
            headers = { X-Team = "ops" }

            [[webhooks]]
            name = "slack"
            url = "https://hooks.slack.example/T/B/x"
            format = "slack"
            """
        )
        let configuration = try ConfigLoader(environment: ["KINSTA_API_KEY": "k"]).load(path: good)
        #expect(configuration.webhooks.map(\.name) == ["std", "slack"])
        #expect(configuration.webhooks[0].events == [.succeeded, .failed])
        #expect(configuration.webhooks[0].headers == ["X-Team": "ops"])
        #expect(!configuration.redactedSummary.contains("MfKQ9r8G"))
        // A Slack URL's path is its secret
        #expect(!configuration.redactedSummary.contains("/T/B/x"))
        #expect(configuration.redactedSummary.contains("https://hooks.slack.example/[redacted]"))

        let mistakes = [
            (
                "[[webhooks]]\nname = \"a\"\nurl = \"ftp://x\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
                "url"
            ),
            ("[[webhooks]]\nurl = \"https://x.example\"\nsecret = \"nope\"\n", "line 3"),
            (
                "[[webhooks]]\nurl = \"https://x.example\"\nformat = \"slack\"\nevents = [\"job.exploded\"]\n",
                "job.exploded"
            ),
            ("[[webhooks]]\nurl = \"https://x.example\"\nformat = \"slack\"\nretries = 3\n", "retries"),
            (
                "[[webhooks]]\nurl = \"https://x.example\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n"
                    + "secret_file = \"/x\"\n",
                "not both"
            ),
            ("[[webhooks]]\nurl = \"https://x.example\"\nsecret_file = \"/nonexistent/secret\"\n", "does not exist"),
        ]
        for (text, mention) in mistakes {
            let path = try ConfigLoaderTests().file(text)
            #expect {
                _ = try ConfigLoader(environment: ["KINSTA_API_KEY": "k"]).load(path: path)
            } throws: { error in
                (error as? ConfigError)?.message.contains(mention) == true
            }
        }
    }
}
