import ArgumentParser
import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops health` — `GET /v1/health`: the status first, then the rest in words and as key/value pairs.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract:
            "Show the daemon's health: version, uptime, queue depth, in-flight jobs, API reachability, the API key's "
            + "expiry.",
        discussion: "Exits 0 when the daemon answers 200, 1 when it answers with an unhealthy status."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let healthy = try await global.withClient { client in
            let route = "GET /\(socketAPIVersion)/health"
            let response = try await client.sendAllowingErrors("GET", "/\(socketAPIVersion)/health")
            // An unhealthy daemon may answer 503 with its health report; an error answer is reported as such.
            guard let value = try? WireJSON.decoder().decode(JSONValue.self, from: response.body),
                case .object(let object) = value, object["error"] == nil || (200..<300).contains(response.status)
            else {
                if (200..<300).contains(response.status) {
                    throw client.unexpectedAnswer(route: route, detail: "not a JSON object", body: response.body)
                }
                throw client.errorAnswer(status: response.status, body: response.body, route: route)
            }
            if global.json {
                Console.out(Format.rawJSON(response.body))
            } else {
                for line in Self.render(object) { Console.out(line) }
            }
            return (200..<300).contains(response.status)
        }
        if !healthy { throw ExitCode(ExitStatus.failure) }
    }

    /// The status first, then the figures an admin reads, in words (`up 3h 12m`, `2 queued, 5 in flight`), then
    /// everything else the daemon reported as `key: value` lines (nested objects as dotted keys, keys sorted).
    static func render(_ object: [String: JSONValue]) -> [String] {
        var block = KeyValueBlock()
        var rest = object
        func take(_ key: String) -> JSONValue? { rest.removeValue(forKey: key) }
        func seconds(_ value: JSONValue?) -> Double? {
            switch value {
            case .integer(let number)?: Double(number)
            case .number(let number)?: number
            default: nil
            }
        }
        let status = take("status").map(JSONValue.plainText) ?? "unknown"
        var details: [String] = []
        if let version = take("version") { details.append("kinsta-opsd \(JSONValue.plainText(version))") }
        if let uptime = seconds(take("uptime_seconds")) { details.append("up \(DurationText.format(uptime))") }
        block.add("status", status + (details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")"))
        var jobs: [String] = []
        if let queued = take("queue_depth") { jobs.append("\(JSONValue.plainText(queued)) queued") }
        if let inFlight = take("in_flight") { jobs.append("\(JSONValue.plainText(inFlight)) in flight") }
        if let oldest = seconds(take("oldest_pending_seconds")) {
            jobs.append("the oldest queued for \(DurationText.format(oldest))")
        } else {
            _ = take("oldest_pending_seconds")
        }
        if !jobs.isEmpty { block.add("jobs", jobs.joined(separator: ", ")) }
        if case .object(let states)? = take("jobs_by_state") {
            let counted = JobState.allCases.compactMap { state -> String? in
                guard let count = states[state.rawValue], count != .integer(0) else { return nil }
                return "\(state.rawValue) \(JSONValue.plainText(count))"
            }
            block.add("by state", counted.isEmpty ? "no jobs yet" : counted.joined(separator: ", "))
        }
        if case .array(let disabled)? = take("disabled_webhook_endpoints") {
            let names = disabled.map { endpoint in
                "\(JSONValue.plainText(endpoint["name"] ?? .null)) (since \(JSONValue.plainText(endpoint["since"] ?? .null)): "
                    + "\(JSONValue.plainText(endpoint["reason"] ?? .null)))"
            }
            block.add("webhooks", names.isEmpty ? "all enabled" : "disabled: " + names.joined(separator: "; "))
        }
        func walk(_ object: [String: JSONValue], prefix: String) {
            for key in object.keys.sorted() {
                let value = object[key] ?? .null
                if case .object(let nested) = value, !nested.isEmpty {
                    walk(nested, prefix: prefix + key + ".")
                } else {
                    block.add(prefix + key, JSONValue.plainText(value))
                }
            }
        }
        walk(rest, prefix: "")
        return block.render()
    }
}
