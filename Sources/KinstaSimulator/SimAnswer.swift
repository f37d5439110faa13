import Foundation
import HTTPTypes
import Hummingbird

/// An answer before it becomes a Response (so it can be logged with its status and body).
struct SimAnswer {
    var status: Int
    var json: Any
    /// A body that is not JSON (chaos), sent instead of `json`.
    var raw: String?
    var operationID: String?
    var headers: [String: String] = [:]

    init(status: Int, json: Any, raw: String? = nil, operationID: String? = nil) {
        self.status = status
        self.json = json
        self.raw = raw
        self.operationID = operationID
    }

    static func json(_ status: Int, _ json: Any) -> SimAnswer { SimAnswer(status: status, json: json) }

    /// Kinsta's error body: `{"message": …, "status": …, "data": null}`.
    static func error(_ status: Int, _ message: String) -> SimAnswer {
        SimAnswer(status: status, json: ["message": message, "status": status, "data": NSNull()])
    }

    static let notFoundMessage = "Could not find data or the user does not have permissions to retrieve it"
    static let blockedMessage = "The environment is blocked by another process. Please try again a bit later."

    /// Kinsta's 404 for an id it does not know (or the key may not see).
    static var notFound: SimAnswer { .error(404, notFoundMessage) }

    /// The 404 Kinsta has been seen to answer for a site id it does not know.
    static var siteNotFound: SimAnswer { .error(404, "Site not found") }

    static func badRequest(_ message: String) -> SimAnswer { .error(400, message) }

    var body: Data {
        raw.map { Data($0.utf8) }
            ?? (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    func response(_ body: Data) -> Response {
        var fields: HTTPFields = [.contentType: raw == nil ? "application/json" : "text/html"]
        for (name, value) in headers { if let field = HTTPField.Name(name) { fields[field] = value } }
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: fields,
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    var response: Response { response(body) }
}
