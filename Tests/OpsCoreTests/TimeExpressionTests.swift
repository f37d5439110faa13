import Foundation
import OpsCore
import Testing

/// `--since` and `--until` as journalctl takes them.
@Suite struct TimeExpressionTests {
    // 2026-12-01T10:20:30Z, a Tuesday; Berlin is UTC+1 then.
    static let now = Date(timeIntervalSince1970: 1_796_120_430)
    static let berlin = TimeZone(identifier: "Europe/Berlin")!

    static func parse(_ text: String) -> Date? { TimeExpression.parse(text, now: now, timeZone: berlin) }

    static func utc(_ text: String) -> Date { CanonicalJSON.parseDate(text)! }

    @Test(arguments: [
        ("now", "2026-12-01T10:20:30Z"),
        ("1 hour ago", "2026-12-01T09:20:30Z"),
        ("1h ago", "2026-12-01T09:20:30Z"),
        ("90min ago", "2026-12-01T08:50:30Z"),
        ("  2 DAYS ago ", "2026-11-29T10:20:30Z"),
        ("-15m", "2026-12-01T10:05:30Z"),
        ("1 week ago", "2026-11-24T10:20:30Z"),
        ("30 s ago", "2026-12-01T10:20:00Z"),
        ("today", "2026-11-30T23:00:00Z"),
        ("yesterday", "2026-11-29T23:00:00Z"),
        ("tomorrow", "2026-12-01T23:00:00Z"),
        ("2026-12-01", "2026-11-30T23:00:00Z"),
        ("2026-12-01 09:30", "2026-12-01T08:30:00Z"),
        ("2026-07-01 09:30:15", "2026-07-01T07:30:15Z"),  // summer time: UTC+2
        ("09:30", "2026-12-01T08:30:00Z"),
        ("2026-12-01T09:30:00Z", "2026-12-01T09:30:00Z"),
        ("2026-12-01T09:30:00+01:00", "2026-12-01T08:30:00Z"),
        ("2026-12-01T09:30:00.250Z", "2026-12-01T09:30:00.250Z"),
        ("@1796117400", "2026-12-01T09:30:00Z"),
    ])
    func readsTheFormsAdminsType(_ text: String, _ expected: String) {
        #expect(Self.parse(text) == Self.utc(expected))
        #expect(Self.utc("2026-12-01T09:30:00Z") == Date(timeIntervalSince1970: 1_796_117_400))
    }

    @Test(arguments: [
        "", "1 hour", "hour ago", "5 fortnights ago", "2026-13-01", "2026-02-30", "2026-12-01 25:00", "9:61",
        "12", "2026-12", "last tuesday", "@", "@x", "1h ago ago", "2026-12-01T09:30:00",
    ])
    func refusesWhatItCannotRead(_ text: String) {
        #expect(Self.parse(text) == nil)
    }
}
