/// Where and how to reach Kinsta.
public struct KinstaConfiguration: Sendable, CustomStringConvertible {
    /// API base, e.g. `https://api.kinsta.com/v2`; any server speaking Kinsta's API works.
    public var baseURL: String
    /// The Bearer key. Never printed: `description` redacts it.
    public var apiKey: String
    /// Total deadline of one request, body included.
    public var requestTimeout: Duration
    /// A CA bundle to trust instead of the system's (for a TLS-intercepting proxy or a test server).
    public var caFile: String?
    public var userAgent: String

    public init(
        baseURL: String,
        apiKey: String,
        requestTimeout: Duration = .seconds(30),
        caFile: String? = nil,
        userAgent: String = "kinsta-opsd"
    ) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.apiKey = apiKey
        self.requestTimeout = requestTimeout
        self.caFile = caFile
        self.userAgent = userAgent
    }

    public var description: String {
        "KinstaConfiguration(baseURL: \(baseURL), apiKey: [redacted], requestTimeout: \(requestTimeout))"
    }
}
