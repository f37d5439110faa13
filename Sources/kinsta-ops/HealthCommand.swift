import ArgumentParser
import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops health` — `GET /v1/health`, printed generically as key/value pairs.
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

    /// One `key: value` line per leaf; nested objects become dotted keys, keys sorted.
    static func render(_ object: [String: JSONValue]) -> [String] {
        var block = KeyValueBlock()
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
        walk(object, prefix: "")
        return block.render()
    }
}
