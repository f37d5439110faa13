import Foundation
import Hummingbird
import KinstaClient
import OpsCore
import OpsProtocol

extension SocketAPI {
    /// Read-through routes: tools ask the daemon, which holds the key (and, later, the request budget).
    ///
    /// `GET /v1/kinsta/sites[?company=]`, `/v1/kinsta/sites/{id}`, `/v1/kinsta/sites/{id}/environments`,
    /// `/v1/kinsta/environments/{id}/backups`, `/v1/kinsta/environments/{id}/downloadable-backups`,
    /// `/v1/kinsta/environments/{id}/domains`, `/v1/kinsta/users[?company=]` (where `notified_user_id` comes from),
    /// `/v1/kinsta/regions[?company=]`, `/v1/kinsta/activity-logs[?company=&site_id=&limit=&offset=]` (`limit` 1–100,
    /// 20 when left out). Kinsta's JSON comes back as it is; Kinsta's errors come back as the daemon's JSON errors
    /// with Kinsta's message.
    func addKinstaRoutes(to group: RouterGroup<PeerContext>) {
        let kinsta = group.group("kinsta")
        kinsta.get("sites") { request, _ in
            try await passThrough("/sites?company=" + company(request))
        }
        kinsta.get("sites/:id") { _, context in
            try await passThrough("/sites/" + Self.segment(Self.decoded(context.parameters.get("id")), field: "id"))
        }
        kinsta.get("sites/:id/environments") { _, context in
            try await passThrough(
                "/sites/" + Self.segment(Self.decoded(context.parameters.get("id")), field: "id") + "/environments"
            )
        }
        kinsta.get("environments/:id/backups") { _, context in
            try await passThrough(
                "/sites/environments/" + Self.segment(Self.decoded(context.parameters.get("id")), field: "id")
                    + "/backups"
            )
        }
        kinsta.get("environments/:id/downloadable-backups") { _, context in
            try await passThrough(
                "/sites/environments/" + Self.segment(Self.decoded(context.parameters.get("id")), field: "id")
                    + "/downloadable-backups"
            )
        }
        kinsta.get("environments/:id/domains") { _, context in
            try await passThrough(
                "/sites/environments/" + Self.segment(Self.decoded(context.parameters.get("id")), field: "id")
                    + "/domains"
            )
        }
        kinsta.get("users") { request, _ in
            try await passThrough("/company/" + company(request) + "/users")
        }
        kinsta.get("regions") { request, _ in
            try await passThrough("/company/" + company(request) + "/available-regions")
        }
        kinsta.get("activity-logs") { request, _ in
            let query = request.uri.queryParameters
            var path = "/company/" + (try company(request)) + "/activity-logs"
            var parameters: [String] = []
            if let site = query["site_id"] {
                parameters.append("site_id=" + (try Self.segment(String(site), field: "site_id")))
            }
            let limit = try Self.integer(query, "limit", in: 1...100) ?? 20
            parameters.append("limit=\(limit)")
            if let offset = try Self.integer(query, "offset", in: 0...1_000_000) {
                parameters.append("offset=\(offset)")
            }
            path += "?" + parameters.joined(separator: "&")
            return try await passThrough(path)
        }
    }

    /// The company a company-wide read is about: `?company=`, else the configured one (percent-encoded).
    private func company(_ request: Request) throws -> String {
        let company = request.uri.queryParameters["company"].map(String.init) ?? defaultCompany
        guard let company, !company.isEmpty else {
            throw APIError(
                .unprocessableContent,
                code: .invalidParams,
                "no company: pass ?company= or configure kinsta.company_id",
                field: "company"
            )
        }
        return try Self.segment(company, field: "company")
    }

    private func passThrough(_ path: String) async throws -> Response {
        guard let kinsta else {
            throw APIError(.serviceUnavailable, code: .unavailable, "this daemon has no Kinsta client")
        }
        switch await kinsta.read(path) {
        case .ok(let body):
            return Response.json(body)
        case .notFound(let message):
            throw APIError(.notFound, code: .kinstaNotFound, "Kinsta: \(message)")
        case .failure(let failure):
            if failure.isTransient {
                throw APIError(.serviceUnavailable, code: .kinstaUnavailable, failure.description)
            }
            throw APIError(.badGateway, code: .kinstaError, failure.description)
        }
    }

    /// A path parameter as the client meant it: the router hands it over as sent, and a client that percent-encodes
    /// `:` (`%3A`) means `:`. (Query parameters arrive decoded already.)
    static func decoded(_ value: String?) -> String? {
        value.map { $0.removingPercentEncoding ?? $0 }
    }

    /// A path segment from the caller: an ID of safe characters, percent-encoded for Kinsta.
    static func segment(_ value: String?, field: String) throws -> String {
        guard let value, !value.isEmpty, value.count <= 128,
            value.unicodeScalars.allSatisfy({
                $0.properties.isAlphabetic && $0.isASCII || ("0"..."9").contains($0)
                    || "-_:".unicodeScalars.contains($0)
            })
        else {
            throw APIError.badRequest("\(field) must be an ID of letters, digits, '-', '_' or ':'", field: field)
        }
        return KinstaCall.percentEncodePathSegment(value)
    }
}
