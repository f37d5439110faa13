public import Foundation

/// A cron expression of five fields (minute, hour, day of month, month, day of week), as crontab(5) reads them:
/// `*`, values, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, month and day names (`jan`, `mon`), 7 for Sunday,
/// and the shorthands `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`). When both the
/// day of month and the day of week are restricted, a day matching either fires, as cron does.
///
/// Times are local to a time zone, and a day with a clock change is handled the way an admin expects: a local time
/// the clock skips (02:30 on the night clocks go forward) does not fire that day, and a local time the clock repeats
/// (01:30 on the night they go back) fires once, at its first occurrence.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    public let minutes: [Int]
    public let hours: [Int]
    public let days: Set<Int>
    public let months: Set<Int>
    /// 0 (Sunday) … 6.
    public let weekdays: Set<Int>
    let daysRestricted: Bool
    let weekdaysRestricted: Bool
    /// As written.
    public let description: String

    /// A malformed expression, with what is wrong.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    static let shorthands = [
        "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    ]

    public init(_ text: String) throws(ParseError) {
        let trimmed = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let expanded = Self.shorthands[trimmed.lowercased()] ?? trimmed
        let fields = expanded.split(separator: " ").map { String($0).lowercased() }
        guard fields.count == 5 else {
            throw ParseError(
                description: "cron \"\(text)\" has \(fields.count) fields; it needs 5: minute hour day-of-month month "
                    + "day-of-week (e.g. \"30 3 * * *\" for 03:30 every day)"
            )
        }
        minutes = try Self.field(fields[0], "minute", 0...59).sorted()
        hours = try Self.field(fields[1], "hour", 0...23).sorted()
        days = try Self.field(fields[2], "day of month", 1...31)
        months = try Self.field(fields[3], "month", 1...12, names: Self.monthNames, firstName: 1)
        weekdays = Set(
            try Self.field(fields[4], "day of week", 0...7, names: Self.dayNames, firstName: 0).map { $0 % 7 }
        )
        daysRestricted = !fields[2].hasPrefix("*")
        weekdaysRestricted = !fields[4].hasPrefix("*")
        description = text
    }

    private static func field(
        _ text: String,
        _ name: String,
        _ range: ClosedRange<Int>,
        names: [String] = [],
        firstName: Int = 0
    ) throws(ParseError) -> Set<Int> {
        func value(_ token: Substring) throws(ParseError) -> Int {
            if let number = Int(token), range.contains(number) { return number }
            if let index = names.firstIndex(of: String(token)) { return index + firstName }
            throw ParseError(
                description: "cron \(name) \(token) is not \(range.lowerBound)–\(range.upperBound)"
                    + (names.isEmpty ? "" : " or a name (\(names.prefix(3).joined(separator: ", ")), …)")
            )
        }
        var values: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else {
                throw ParseError(description: "cron \(name) field \(text) is malformed")
            }
            var step = 1
            if pieces.count == 2 {
                guard let number = Int(pieces[1]), number >= 1 else {
                    throw ParseError(description: "cron \(name) step /\(pieces[1]) must be a whole number ≥ 1")
                }
                step = number
            }
            var low: Int
            var high: Int
            if pieces[0] == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = pieces[0].firstIndex(of: "-") {
                low = try value(pieces[0][..<dash])
                high = try value(pieces[0][pieces[0].index(after: dash)...])
                guard low <= high else {
                    throw ParseError(description: "cron \(name) range \(pieces[0]) runs backwards")
                }
            } else {
                low = try value(pieces[0])
                // `5/15` is 5, 20, 35, 50, as cron reads it.
                high = pieces.count == 2 ? range.upperBound : low
            }
            for number in stride(from: low, through: high, by: step) { values.insert(number) }
        }
        return values
    }

    /// Whether the schedule fires on this day (`weekday` 0 = Sunday).
    func matches(day: Int, month: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        switch (daysRestricted, weekdaysRestricted) {
        case (true, true): return days.contains(day) || weekdays.contains(weekday)
        case (true, false): return days.contains(day)
        case (false, true): return weekdays.contains(weekday)
        case (false, false): return true
        }
    }

    /// The first time after `date` the schedule fires in `zone`; `nil` when none comes within eight years (a
    /// February 30th).
    public func next(after date: Date, in zone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let start = calendar.dateComponents([.year, .month, .day], from: date)
        guard
            var day = calendar.date(
                from: DateComponents(year: start.year, month: start.month, day: start.day, hour: 12)
            )
        else { return nil }
        for _ in 0..<(366 * 8) {
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if let year = parts.year, let month = parts.month, let dayOfMonth = parts.day, let weekday = parts.weekday,
                matches(day: dayOfMonth, month: month, weekday: weekday - 1)
            {
                for hour in hours {
                    for minute in minutes {
                        guard
                            let instant = Self.instant(
                                year: year,
                                month: month,
                                day: dayOfMonth,
                                hour: hour,
                                minute: minute,
                                calendar
                            ),
                            instant > date
                        else { continue }
                        return instant
                    }
                }
            }
            guard let following = calendar.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = following
        }
        return nil
    }

    /// The instant a local time stands for: `nil` when the clock skips it, the first of the two when it repeats it.
    static func instant(year: Int, month: Int, day: Int, hour: Int, minute: Int, _ calendar: Calendar) -> Date? {
        let wanted = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute)
        guard let found = calendar.date(from: wanted) else { return nil }
        let fields: Set<Calendar.Component> = [.year, .month, .day, .hour, .minute]
        func isWanted(_ date: Date) -> Bool {
            let parts = calendar.dateComponents(fields, from: date)
            return parts.year == year && parts.month == month && parts.day == day && parts.hour == hour
                && parts.minute == minute
        }
        // A local time the clock jumps over comes back as another one (02:30 as 03:30): it does not exist that day.
        guard isWanted(found) else { return nil }
        // A repeated local time: the earlier instant, whichever the calendar gave (clock changes are 30 or 60 min).
        for shift in [3600.0, 1800.0] where isWanted(found.addingTimeInterval(-shift)) {
            return found.addingTimeInterval(-shift)
        }
        return found
    }

    /// The runs due by `now` that have not fired since `last`: the latest of them, and how many there were in all (up
    /// to `limit`); `nil` when none is due. `offset` is the schedule's jitter: a run at `t` is due at `t + offset`.
    public func due(
        since last: Date,
        now: Date,
        in zone: TimeZone,
        offset: TimeInterval = 0,
        limit: Int = 1000
    ) -> (latest: Date, count: Int)? {
        var latest: Date?
        var count = 0
        var cursor = last
        while count < limit, let next = next(after: cursor, in: zone), next.addingTimeInterval(offset) <= now {
            latest = next
            count += 1
            cursor = next
        }
        if count == limit, let latest, let jump = lastRun(before: now.addingTimeInterval(-offset), after: latest, zone)
        {
            // More runs were missed than are worth counting one by one: the latest is what fires.
            return (jump, count)
        }
        return latest.map { ($0, count) }
    }

    /// The last run at or before `date`, searched forward from `after`, hour by hour of the gap, then exactly.
    private func lastRun(before date: Date, after: Date, _ zone: TimeZone) -> Date? {
        var cursor = after
        var step: TimeInterval = 86_400 * 30
        while step >= 60 {
            while let probe = next(after: cursor.addingTimeInterval(step), in: zone), probe <= date {
                cursor = probe
            }
            step /= 4
        }
        var result: Date? = cursor
        while let next = next(after: cursor, in: zone), next <= date {
            result = next
            cursor = next
        }
        return result
    }

    /// A stable offset of 0…`jitter` seconds for the schedule named `name` (FNV-1a of its name): the same every run
    /// and every restart, different between schedules, so schedules with one cron line do not all fire at once.
    public static func jitterOffset(name: String, jitter: Int) -> TimeInterval {
        guard jitter > 0 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return TimeInterval(hash % UInt64(jitter + 1))
    }
}
