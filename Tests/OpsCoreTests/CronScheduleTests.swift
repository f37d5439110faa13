import Foundation
import OpsCore
import Testing

/// Cron lines and their runs in a time zone, clock changes included (docs/architecture.md, "Schedules").
@Suite struct CronScheduleTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let berlin = TimeZone(identifier: "Europe/Berlin")!

    static func date(_ text: String) -> Date { CanonicalJSON.parseDate(text)! }

    static func runs(_ cron: String, after start: String, _ zone: TimeZone, count: Int) throws -> [String] {
        let schedule = try CronSchedule(cron)
        var cursor = date(start)
        var out: [String] = []
        for _ in 0..<count {
            guard let next = schedule.next(after: cursor, in: zone) else { break }
            out.append(CanonicalJSON.formatDate(next))
            cursor = next
        }
        return out
    }

    @Test func fieldsValuesRangesStepsListsAndNames() throws {
        #expect(
            try Self.runs("30 3 * * *", after: "2026-12-01T03:30:00Z", Self.utc, count: 2)
                == ["2026-12-02T03:30:00.000Z", "2026-12-03T03:30:00.000Z"]
        )
        #expect(
            try Self.runs("*/20 9-10 * * mon-fri", after: "2026-12-04T10:30:00Z", Self.utc, count: 3)
                == ["2026-12-04T10:40:00.000Z", "2026-12-07T09:00:00.000Z", "2026-12-07T09:20:00.000Z"]
        )
        // Both days restricted: either matches (the 1st, or a Sunday)
        #expect(
            try Self.runs("0 0 1 * 0", after: "2026-12-01T00:00:00Z", Self.utc, count: 2)
                == ["2026-12-06T00:00:00.000Z", "2026-12-13T00:00:00.000Z"]
        )
        #expect(
            try Self.runs("0 12 * jan 7", after: "2026-12-30T00:00:00Z", Self.utc, count: 1) == [
                "2027-01-03T12:00:00.000Z"
            ]
        )
        #expect(
            try Self.runs("@daily", after: "2026-12-01T12:00:00Z", Self.utc, count: 1) == ["2026-12-02T00:00:00.000Z"]
        )
        #expect(
            try Self.runs("5/15 * * * *", after: "2026-12-01T12:00:00Z", Self.utc, count: 4).map {
                String($0.dropFirst(14).prefix(2))
            } == ["05", "20", "35", "50"]
        )
        #expect(try CronSchedule("0 0 30 2 *").next(after: Self.date("2026-01-01T00:00:00Z"), in: Self.utc) == nil)
    }

    @Test(arguments: [
        ("0 3 * *", "has 4 fields; it needs 5"), ("60 * * * *", "minute 60 is not 0–59"),
        ("0 3 * * funday", "day of week funday is not 0–7"), ("0 5-3 * * *", "range 5-3 runs backwards"),
        ("*/0 * * * *", "step /0 must be a whole number ≥ 1"),
    ])
    func aMalformedLineSaysWhatIsWrong(line: String, expected: String) {
        #expect {
            try CronSchedule(line)
        } throws: { "\($0)".contains(expected) }
    }

    /// Clocks go forward in Berlin on 2027-03-28 at 02:00: 02:30 does not exist that night, and does not fire.
    @Test func aLocalTimeTheClockSkipsDoesNotFire() throws {
        #expect(
            try Self.runs("30 2 * * *", after: "2027-03-26T12:00:00Z", Self.berlin, count: 3)
                == ["2027-03-27T01:30:00.000Z", "2027-03-29T00:30:00.000Z", "2027-03-30T00:30:00.000Z"]
        )
    }

    /// Clocks go back in Berlin on 2026-10-25 at 03:00: 02:00–02:59 happens twice, and fires once, the first time.
    @Test func aLocalTimeTheClockRepeatsFiresOnce() throws {
        #expect(
            try Self.runs("30 2 * * *", after: "2026-10-24T12:00:00Z", Self.berlin, count: 2)
                == ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]
        )
        // Hourly: 02:00 CEST (00:00 UTC) fires, 02:00 CET (01:00 UTC) does not, 03:00 CET (02:00 UTC) does
        #expect(
            try Self.runs("0 * * * *", after: "2026-10-24T22:30:00Z", Self.berlin, count: 4)
                == [
                    "2026-10-24T23:00:00.000Z", "2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z",
                    "2026-10-25T03:00:00.000Z",
                ]
        )
    }

    @Test func runsMissedSinceTheLastOneAreCountedAndTheLatestIsDue() throws {
        let nightly = try CronSchedule("0 3 * * *")
        let due = nightly.due(
            since: Self.date("2026-12-01T03:00:00Z"),
            now: Self.date("2026-12-04T04:00:00Z"),
            in: Self.utc
        )
        #expect(due?.latest == Self.date("2026-12-04T03:00:00Z"))
        #expect(due?.count == 3)
        // With its jitter, a run is due only once its offset has passed
        #expect(
            nightly.due(
                since: Self.date("2026-12-04T03:00:00Z"),
                now: Self.date("2026-12-05T03:05:00Z"),
                in: Self.utc,
                offset: 600
            ) == nil
        )
        // A run every minute missed for a month: the latest is found without counting them all
        let minutely = try CronSchedule("* * * * *")
        let month = minutely.due(
            since: Self.date("2026-11-01T00:00:00Z"),
            now: Self.date("2026-12-01T00:00:30Z"),
            in: Self.utc,
            limit: 100
        )
        #expect(month?.latest == Self.date("2026-12-01T00:00:00Z"))
        #expect(month?.count == 100)
    }

    @Test func theJitterIsStablePerScheduleAndWithinItsBound() {
        let offset = CronSchedule.jitterOffset(name: "nightly-backups", jitter: 600)
        #expect(offset == CronSchedule.jitterOffset(name: "nightly-backups", jitter: 600))
        #expect((0...600).contains(offset))
        let offsets = Set((0..<20).map { CronSchedule.jitterOffset(name: "site-\($0)", jitter: 3600) })
        #expect(offsets.count > 15)
        #expect(CronSchedule.jitterOffset(name: "x", jitter: 0) == 0)
    }
}
