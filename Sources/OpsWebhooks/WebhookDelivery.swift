public import CurlHTTP
public import Foundation

/// The retry schedule of a delivery: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (±20 % jitter), then it has failed
/// (about 27.6 h after the first attempt). A receiver's `Retry-After` is honoured when longer, up to 24 h.
public struct DeliverySchedule: Sendable, Hashable {
    public static let standard = DeliverySchedule(delays: [5, 300, 1800, 7200, 18_000, 36_000, 36_000], jitter: 0.2)

    public var delays: [Double]
    public var jitter: Double

    public init(delays: [Double], jitter: Double) {
        self.delays = delays
        self.jitter = jitter
    }

    /// Delay before retry number `attempt` (1 = the first retry); `nil` once the schedule is spent.
    public func delay(
        afterFailedAttempt attempt: Int,
        retryAfter: Double?,
        using rng: inout some RandomNumberGenerator
    )
        -> Double?
    {
        guard attempt >= 1, attempt <= delays.count else { return nil }
        let nominal = delays[attempt - 1]
        let spread = jitter > 0 ? nominal * Double.random(in: (1 - jitter)...(1 + jitter), using: &rng) : nominal
        guard let retryAfter, retryAfter > spread else { return spread }
        return min(retryAfter, 86_400)
    }
}

/// What one attempt came to.
public enum DeliveryOutcome: Sendable, Hashable {
    /// A 2xx: done.
    case delivered(status: Int)
    /// Anything else but 410: try again on the schedule. 3xx and 4xx are retried too: a receiver that is
    /// misconfigured for a while (a moved URL, an expired token) must get every delivery once it is fixed.
    case retry(status: Int?, reason: String, retryAfter: Double?)
    /// 410 Gone: the receiver retired the endpoint; nothing more is sent to it.
    case disableEndpoint(reason: String)
}

/// Maps answers and transport failures to outcomes.
public enum DeliveryClassifier {
    public static func classify(status: Int, retryAfterHeader: String?, now: Date = Date()) -> DeliveryOutcome {
        switch status {
        case 200...299: return .delivered(status: status)
        case 410: return .disableEndpoint(reason: "the receiver answered 410 Gone")
        default:
            let reason = (300...399).contains(status) ? "HTTP \(status) (redirects are not followed)" : "HTTP \(status)"
            return .retry(status: status, reason: reason, retryAfter: RetryAfter.seconds(retryAfterHeader, now: now))
        }
    }

    public static func classify(transportError error: any Error) -> DeliveryOutcome {
        let reason = (error as? HTTPClientError)?.description ?? "\(type(of: error))"
        return .retry(status: nil, reason: reason, retryAfter: nil)
    }
}

/// A delivery ready to send: its stable `webhook-id` and its body.
public struct PreparedDelivery: Sendable, Hashable {
    public var id: String
    public var body: Data

    public init(id: String, body: Data) {
        self.id = id
        self.body = body
    }
}

/// Sends one attempt. Implementations never retry themselves.
public protocol WebhookSender: Sendable {
    func deliver(_ delivery: PreparedDelivery, to endpoint: WebhookEndpoint) async -> DeliveryOutcome
}

/// Builds bodies for an endpoint's format.
public enum WebhookDelivery {
    public static func body(_ event: WebhookEvent, format: WebhookFormat) -> Data {
        switch format {
        case .standard: WebhookPayload.standard(event)
        case .slack: WebhookPayload.slack(event)
        }
    }
}

/// ``WebhookSender`` over libcurl: POST with a 15 s total deadline, no redirects, Standard Webhooks headers signed at
/// this attempt's time for `standard` endpoints.
public struct HTTPWebhookSender: WebhookSender {
    let http: CurlHTTPClient
    let timeout: Duration
    let now: @Sendable () -> Date

    public init(
        http: CurlHTTPClient,
        timeout: Duration = .seconds(15),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.http = http
        self.timeout = timeout
        self.now = now
    }

    public func deliver(_ delivery: PreparedDelivery, to endpoint: WebhookEndpoint) async -> DeliveryOutcome {
        var headers = [HTTPHeader("Content-Type", "application/json"), HTTPHeader("User-Agent", "kinsta-opsd")]
        headers += endpoint.headers.sorted { $0.key < $1.key }.map { HTTPHeader($0.key, $0.value) }
        if endpoint.format == .standard, let secret = endpoint.secret {
            let timestamp = Int64(now().timeIntervalSince1970)
            headers += StandardWebhooks.headers(
                id: delivery.id,
                timestamp: timestamp,
                body: delivery.body,
                secret: secret
            )
        }
        do {
            let response = try await http.execute(
                HTTPRequest(
                    method: "POST",
                    url: endpoint.url,
                    headers: headers,
                    body: delivery.body,
                    timeout: timeout
                )
            )
            return DeliveryClassifier.classify(
                status: response.status,
                retryAfterHeader: response.header("Retry-After"),
                now: now()
            )
        } catch {
            return DeliveryClassifier.classify(transportError: error)
        }
    }
}
