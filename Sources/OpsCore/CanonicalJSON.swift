#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// How the daemon writes JSON everywhere (the socket's answers, the store's JSON columns, webhook bodies): sorted keys,
/// so equal values give equal bytes; `/` unescaped; dates as ISO-8601 in UTC with milliseconds.
public enum CanonicalJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatDate(date))
        }
        return encoder
    }

    /// `2026-11-23T01:02:03.456Z`: UTC, the milliseconds rounded to the nearest.
    public static func formatDate(_ date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendDate(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Foundation's ISO-8601 text, for years ``appendDate(_:to:)`` does not write.
    static func legacyFormat(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)
        )
    }

    /// An ISO-8601 date and time with a zone (`Z` or an offset), with or without fractional seconds. A time without
    /// a zone is refused: which zone it meant is unknown.
    public static func parseDate(_ text: String) -> Date? {
        let withFraction = Date.ISO8601FormatStyle.iso8601.year().month().day()
            .time(includingFractionalSeconds: true).timeZone(separator: .omitted)
        if let date = try? Date(text, strategy: withFraction) { return date }
        return try? Date(text, strategy: .iso8601)
    }
}
