#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A point in time as an admin types it for `--since` and `--until`, in the forms journalctl takes:
///
/// - `now`, `today`, `yesterday`, `tomorrow` (midnight, local time);
/// - `1 hour ago`, `90min ago`, `2 days ago`, `-15m` (units s, m, h, d, w, in short or long form);
/// - `2026-12-01`, `2026-12-01 09:30`, `2026-12-01 09:30:15` (local time), `09:30` (today, local time);
/// - ISO-8601 with a zone: `2026-12-01T09:30:00Z`, `2026-12-01T09:30:00+01:00`;
/// - `@1796117400`: seconds since 1970.
///
/// Pure: the current time and the time zone are passed in.
public enum TimeExpression {
    /// The time `text` names, or `nil` when it is none of the forms above.
    public static func parse(_ text: String, now: Date, timeZone: TimeZone) -> Date? {
        let text = String(text.trimmingWhitespace()).lowercased()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let midnight = calendar.startOfDay(for: now)
        switch text {
        case "now": return now
        case "today": return midnight
        case "yesterday": return calendar.date(byAdding: .day, value: -1, to: midnight)
        case "tomorrow": return calendar.date(byAdding: .day, value: 1, to: midnight)
        default: break
        }
        if text.hasPrefix("@"), let seconds = Double(text.dropFirst()), seconds.isFinite {
            return Date(timeIntervalSince1970: seconds)
        }
        if let span = relativeSeconds(text) { return now.addingTimeInterval(-span) }
        if let date = CanonicalJSON.parseDate(text.uppercased()) { return date }
        return localTime(text, midnight: midnight, calendar: calendar)
    }

    /// `1 hour ago`, `90min ago`, `-15m`: the seconds back from now.
    static func relativeSeconds(_ text: String) -> Double? {
        var body = Substring(text)
        if body.hasSuffix(" ago") {
            body = body.dropLast(4)
        } else if body.hasPrefix("-") {
            body = body.dropFirst()
        } else {
            return nil
        }
        body = body.drop { $0 == " " }
        let digits = body.prefix { $0.isNumber || $0 == "." }
        guard let count = Double(digits), count.isFinite, count >= 0 else { return nil }
        let unit = String(String(body.dropFirst(digits.count)).trimmingWhitespace())
        guard let size = unitSeconds[unit] else { return nil }
        return count * size
    }

    static let unitSeconds: [String: Double] = {
        var table: [String: Double] = [:]
        let units: [(Double, [String])] = [
            (1, ["s", "sec", "secs", "second", "seconds"]),
            (60, ["m", "min", "mins", "minute", "minutes"]),
            (3600, ["h", "hr", "hrs", "hour", "hours"]),
            (86_400, ["d", "day", "days"]),
            (604_800, ["w", "week", "weeks"]),
        ]
        for (seconds, names) in units { for name in names { table[name] = seconds } }
        return table
    }()

    /// `2026-12-01`, `2026-12-01 09:30[:15]`, `09:30[:15]`, in local time.
    static func localTime(_ text: String, midnight: Date, calendar: Calendar) -> Date? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard (1...2).contains(parts.count) else { return nil }
        var day = calendar.dateComponents([.year, .month, .day], from: midnight)
        var clock: Substring?
        if parts[0].contains("-") {
            let fields = parts[0].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard fields.count == 3, let year = fields[0], let month = fields[1], let dayOfMonth = fields[2],
                (1...12).contains(month), (1...31).contains(dayOfMonth), parts[0].count == 10
            else { return nil }
            (day.year, day.month, day.day) = (year, month, dayOfMonth)
            clock = parts.count == 2 ? parts[1] : nil
        } else {
            guard parts.count == 1 else { return nil }
            clock = parts[0]
        }
        var components = day
        components.hour = 0
        components.minute = 0
        components.second = 0
        if let clock {
            let fields = clock.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
            guard (2...3).contains(fields.count), let hour = fields[0], let minute = fields[1],
                (0...23).contains(hour), (0...59).contains(minute)
            else { return nil }
            let second = fields.count == 3 ? fields[2] : 0
            guard let second, (0...59).contains(second) else { return nil }
            (components.hour, components.minute, components.second) = (hour, minute, second)
        }
        guard let date = calendar.date(from: components) else { return nil }
        // A day that does not exist (2026-02-30) would roll over: refuse it.
        let back = calendar.dateComponents([.year, .month, .day], from: date)
        guard back.year == components.year, back.month == components.month, back.day == components.day else {
            return nil
        }
        return date
    }

    /// The forms, for an error message.
    public static let forms =
        #""1 hour ago", "30m ago", "today", "yesterday", "2026-12-01 09:30", "2026-12-01T09:30:00Z" or "@1796117400""#
}
