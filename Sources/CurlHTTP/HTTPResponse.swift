public import Foundation

/// A complete, buffered HTTP response.
///
/// Every status, `4xx` and `5xx` included, is a value here, not an error: only transport failures throw.
public struct HTTPResponse: Sendable {
    /// The status code of the final response, e.g. `200` or `404`.
    public var status: Int
    /// The header fields of the final response only; interim `1xx` heads (e.g. `100 Continue`) and, when redirects
    /// are followed, the heads of redirects are left out. Trailers are not included.
    public var headers: [HTTPHeader]
    /// The response body (after any transfer decoding), at most ``HTTPRequest/maxResponseBytes`` long.
    public var body: Data

    /// Creates a response value (useful for test doubles).
    public init(status: Int, headers: [HTTPHeader] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header named `name`, compared case-insensitively; `nil` when absent.
    public func header(_ name: String) -> String? {
        headers.firstValue(named: name)
    }
}
