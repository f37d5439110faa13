import Crypto
public import CurlHTTP
public import Foundation

/// Standard Webhooks v1 signing: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
public enum StandardWebhooks {
    public static func signature(id: String, timestamp: Int64, body: Data, secret: WebhookSecret) -> String {
        var content = Data("\(id).\(timestamp).".utf8)
        content.append(body)
        let code = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: secret.key))
        return "v1," + Data(code).base64EncodedString()
    }

    /// The three headers of a signed delivery.
    public static func headers(id: String, timestamp: Int64, body: Data, secret: WebhookSecret) -> [HTTPHeader] {
        [
            HTTPHeader("webhook-id", id), HTTPHeader("webhook-timestamp", String(timestamp)),
            HTTPHeader("webhook-signature", signature(id: id, timestamp: timestamp, body: body, secret: secret)),
        ]
    }

    /// Verifies a signature header (space-separated `v1,…` entries) in constant time, within ±5 min of `now`.
    public static func verify(
        id: String,
        timestamp: Int64,
        body: Data,
        signatureHeader: String,
        secret: WebhookSecret,
        now: Int64
    ) -> Bool {
        guard abs(now - timestamp) <= 300 else { return false }
        var content = Data("\(id).\(timestamp).".utf8)
        content.append(body)
        let key = SymmetricKey(data: secret.key)
        for entry in signatureHeader.split(separator: " ") {
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let given = Data(base64Encoded: String(parts[1])) else {
                continue
            }
            if HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: content, using: key) { return true }
        }
        return false
    }
}
