public import Foundation

/// The `Retry-After` header (RFC 9110 §10.2.3) as seconds to wait: the one reading of it for every client of
/// ``CurlHTTPClient`` (Kinsta's answers, webhook receivers).
public enum RetryAfter {
    /// Delta-seconds (a fraction is taken as sent) or an HTTP date (IMF-fixdate, read against `now`; a date in the
    /// past is 0), at most `cap`. Absent, empty, negative or unreadable values are `nil`.
    public static func seconds(_ value: String?, now: Date, cap: Double = .infinity) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value), seconds.isFinite, seconds >= 0 {
            return min(seconds, cap)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return min(max(0, date.timeIntervalSince(now)), cap)
    }
}
