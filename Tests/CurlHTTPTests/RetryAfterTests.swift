import CurlHTTP
import Foundation
import Testing

@Suite struct RetryAfterTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)  // Fri, 15 Jan 2027 08:00:00 GMT

    @Test func readsDeltaSecondsAsSent() {
        #expect(RetryAfter.seconds("30", now: now) == 30)
        #expect(RetryAfter.seconds(" 2.5 ", now: now) == 2.5)
        #expect(RetryAfter.seconds("0", now: now) == 0)
        #expect(RetryAfter.seconds("999999", now: now) == 999_999)
    }

    @Test func readsAnHTTPDateAgainstNow() {
        #expect(RetryAfter.seconds("Fri, 15 Jan 2027 08:00:20 GMT", now: now) == 20)
        #expect(RetryAfter.seconds("Fri, 15 Jan 2027 07:59:00 GMT", now: now) == 0)
    }

    @Test func capsBothForms() {
        #expect(RetryAfter.seconds("999999", now: now, cap: 3600) == 3600)
        #expect(RetryAfter.seconds("Sat, 16 Jan 2027 08:00:00 GMT", now: now, cap: 3600) == 3600)
        #expect(RetryAfter.seconds("30", now: now, cap: 3600) == 30)
    }

    @Test func nonsenseIsAbsent() {
        for value in [nil, "", "  ", "-5", "soon", "inf", "nan", "15 Jan 2027"] as [String?] {
            #expect(RetryAfter.seconds(value, now: now) == nil, "\(value ?? "nil")")
        }
    }
}
