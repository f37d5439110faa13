import ArgumentParser
import Foundation
import Hummingbird
import KinstaSimulator
import Logging

/// `kinsta-sim`: the Kinsta API simulator on loopback, for demos and tests.
@main
struct KinstaSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinsta-sim",
        abstract:
            "A simulator of the Kinsta API v2 (the 37 writes that answer an operation_id, and their reads) on loopback.",
        discussion: """
            Once listening it prints one line, `kinsta-sim listening on http://127.0.0.1:PORT/v2`. \
            Request bodies are checked against Kinsta's OpenAPI file (required fields, types, enums, UUIDs): a refusal \
            answers 400 like Kinsta; an unknown id 404.

            Admin routes without auth:
              GET  /_sim/requests    every /v2 request: method, path, redacted body, status and the answer's body
              GET  /_sim/operations  every operation with its kind, state, target and times
              GET  /_sim/state       company_id, sites (environments with backups, domains, CDN and edge cache ids, \
            plugins, themes, SFTP accounts), users, regions, dns_domains
              POST /_sim/webhooks/NAME, GET /_sim/webhooks   a webhook receiver
            """
    )

    @Option(help: "Address to bind (loopback only unless --allow-non-loopback).") var host = "127.0.0.1"
    @Option(help: "Port; 0 picks a free one.") var port = 0
    @Option(help: "Write the bound port to this file once listening.") var portFile: String?
    @Option(help: "The Bearer API key it accepts.") var apiKey = "sim-api-key"
    @Option(help: "The company ID it knows.") var company = SimulatorConfiguration().companyID
    @Option(help: "Longest start-up window, in seconds, during which a new operation answers 404.") var window = 10.0
    @Option(
        help: """
            Multiplies every operation's duration (at 1: site create 60–300 s, environment create/clone/push \
            60–300 s, manual backup 30–180 s, tools, caches, PHP, domains, DNS, plugins and SFTP 3–60 s).
            """
    )
    var durationScale = 1.0
    @Option(help: "Probability (0–1) that an operation ends in 500 failed.") var failureRate = 0.0
    @Option(help: "Seed of every random draw.") var seed: UInt64 = 1
    @Option(help: "Sites that exist at start (each with a live and a staging environment).") var seedSites = 2
    @Option(
        help: "Days until the API key expires (GET /validate shows it; after it every request answers 401); 0: never."
    )
    var keyExpiresInDays = 365.0
    @Option(
        parsing: .singleValue,
        help:
            "A region available to the company (repeat; default: \(SimulatorConfiguration.defaultRegions.joined(separator: ", ")))."
    )
    var region: [String] = []
    @Flag(help: "Take the older restore body (env_display_name_of_backup instead of notified_user_id).")
    var acceptLegacyRestoreBody = false
    @Option(
        name: .customLong("transient-500-rate"),
        help: "Chaos: probability that /operations answers 500 while the operation still runs."
    )
    var transient500Rate = 0.0
    @Option(
        name: .customLong("late-404-rate"),
        help: "Chaos: probability that /operations answers 404 while the operation runs (a late 404)."
    )
    var late404Rate = 0.0
    @Option(help: "Chaos: probability that any request answers 502/503 with an HTML body.") var serverErrorRate = 0.0
    @Option(help: "Chaos: probability that a successful answer's body is not JSON.") var garbageRate = 0.0
    @Option(help: "Chaos: probability that a request is held for --stall-seconds.") var stallRate = 0.0
    @Option(help: "Chaos: how long a stalled request is held.") var stallSeconds = 5.0
    @Option(help: "Chaos: more requests than this a minute answer 429 (0: no limit).") var rateLimit = 0
    @Option(help: "Chaos: Retry-After seconds sent with a 429.") var retryAfter: Int?
    @Flag(
        help: """
            Chaos: refuse work on a site or environment while an operation runs on it, on its site, or (for a site) \
            on any of its environments ("environment is blocked").
            """
    )
    var refuseBlocked = false
    @Option(
        help:
            "Chaos (with --refuse-blocked): probability that work on a site or environment is refused as blocked anyway."
    )
    var blockedRate = 0.0
    @Option(help: "Chaos: probability that a submit Kinsta took answers 500 or a proxy's 502/504 instead of its 202.")
    var beganErrorRate = 0.0
    @Flag(
        help: "Chaos: echo each request's Authorization header and body in answers (and a submit's in its operation's)."
    )
    var echoSecrets = false
    @Option(help: "Chaos: hold every submit (POST, DELETE) this many seconds before taking it.")
    var submitDelay = 0.0
    @Flag(help: "Allow binding to an address other than loopback.") var allowNonLoopback = false
    @Option(help: "Log level (trace, debug, info, warning, error).") var logLevel = "info"

    func validate() throws {
        guard allowNonLoopback || ["127.0.0.1", "::1", "localhost"].contains(host) else {
            throw ValidationError("refusing to bind \(host): the simulator is for loopback (use --allow-non-loopback)")
        }
        for (name, rate) in [
            ("--failure-rate", failureRate), ("--transient-500-rate", transient500Rate),
            ("--late-404-rate", late404Rate), ("--server-error-rate", serverErrorRate), ("--garbage-rate", garbageRate),
            ("--stall-rate", stallRate), ("--began-error-rate", beganErrorRate),
        ] {
            guard (0...1).contains(rate) else { throw ValidationError("\(name) must be from 0 to 1") }
        }
        guard submitDelay >= 0, submitDelay <= 600 else {
            throw ValidationError("--submit-delay must be from 0 to 600")
        }
        guard keyExpiresInDays >= 0 else { throw ValidationError("--key-expires-in-days must be ≥ 0") }
        guard window >= 0, durationScale >= 0 else {
            throw ValidationError("--window and --duration-scale must be ≥ 0")
        }
    }

    func run() async throws {
        var logger = Logger(label: "kinsta-sim")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let simulator = KinstaSimulator(
            configuration: SimulatorConfiguration(
                apiKey: apiKey,
                companyID: company,
                startupWindowMax: window,
                durationScale: durationScale,
                failureRate: failureRate,
                seed: seed,
                seedSites: seedSites,
                chaos: SimulatorChaos(
                    transient500Rate: transient500Rate,
                    late404Rate: late404Rate,
                    serverErrorRate: serverErrorRate,
                    garbageRate: garbageRate,
                    stallRate: stallRate,
                    stallSeconds: stallSeconds,
                    rateLimitPerMinute: rateLimit,
                    retryAfter: retryAfter,
                    refuseBlocked: refuseBlocked,
                    blockedRate: blockedRate,
                    beganErrorRate: beganErrorRate,
                    echoSecrets: echoSecrets,
                    submitDelay: submitDelay
                ),
                regions: region.isEmpty ? SimulatorConfiguration.defaultRegions : region,
                keyExpiresInDays: keyExpiresInDays,
                acceptsLegacyRestoreBody: acceptLegacyRestoreBody
            )
        )
        let host = self.host
        let portFile = self.portFile
        let app = simulator.application(host: host, port: port, logger: logger) { bound in
            if let portFile {
                let temporary = portFile + ".tmp"
                try? "\(bound)\n".write(toFile: temporary, atomically: false, encoding: .utf8)
                _ = rename(temporary, portFile)
            }
            FileHandle.standardOutput.write(Data("kinsta-sim listening on http://\(host):\(bound)/v2\n".utf8))
        }
        try await app.runService()
    }
}
