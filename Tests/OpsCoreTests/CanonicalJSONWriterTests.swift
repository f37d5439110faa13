import Foundation
import OpsCore
import Testing

/// The hand-written JSON writer stands in for `JSONEncoder` on the hot paths (the store's JSON columns, the socket's
/// job answers), so it must write the same bytes: the idempotency fingerprints already stored compare as text.
@Suite struct CanonicalJSONWriterTests {
    /// Characters that JSON text treats specially, or that order differently by UTF-8, UTF-16 or Unicode rules.
    static let alphabet: [String] = [
        "a", "b", "Z", "_", "0", "9", " ", "\"", "\\", "/", "\u{0}", "\u{1}", "\u{8}", "\u{9}", "\u{A}", "\u{C}",
        "\u{D}", "\u{1F}", "\u{7F}", "é", "e\u{301}", "\u{2028}", "\u{FF5E}", "😀", "\u{200D}", "\u{FFFD}",
    ]

    static func randomString(_ rng: inout SplitMix64) -> String {
        (0..<Int.random(in: 0...6, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
    }

    static func randomValue(_ rng: inout SplitMix64, depth: Int) -> JSONValue {
        let integers: [Int64] = [0, 1, -1, 42, Int64.max, Int64.min, 9_007_199_254_740_993]
        let numbers: [Double] = [
            0.5, -0.0, 1e-7, 1e21, 1e15, 1e16, 123.456, -2.5e-300, 0.1 + 0.2, 1.7976931348623157e308,
        ]
        switch Int.random(in: 0..<(depth > 3 ? 6 : 8), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2:
            return .integer(
                Bool.random(using: &rng)
                    ? integers.randomElement(using: &rng)! : Int64.random(in: -1_000_000...1_000_000, using: &rng)
            )
        case 3:
            return .number(
                Bool.random(using: &rng)
                    ? numbers.randomElement(using: &rng)! : Double.random(in: -1e6...1e6, using: &rng)
            )
        case 4, 5: return .string(randomString(&rng))
        case 6: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                members[randomString(&rng)] = randomValue(&rng, depth: depth + 1)
            }
            return .object(members)
        }
    }

    /// Bytes, not `String`s: `==` on strings compares canonical forms, so `"e\u{301}"` would equal `"é"`.
    static func encoded(_ value: some Encodable) throws -> [UInt8] { Array(try CanonicalJSON.encoder().encode(value)) }

    static func written(_ value: JSONValue) -> [UInt8] { Array(CanonicalJSON.text(value).utf8) }

    @Test func writesWhatJSONEncoderWrites() throws {
        var rng = SplitMix64(seed: 20_261_201)
        for _ in 0..<3000 {
            let value = Self.randomValue(&rng, depth: 0)
            #expect(Self.written(value) == (try Self.encoded(value)))
        }
    }

    @Test func keysAreInUTF8ByteOrderAsEncoderSortsThem() throws {
        // Not Swift's `<` (which compares canonical forms) and not UTF-16 order.
        let value: JSONValue = [
            "f": 1, "e\u{301}": 2, "\u{E8}z": 3, "\u{FF5E}": 4, "😀": 5, "B": 6, "_": 7, "10": 8, "9": 9,
        ]
        #expect(
            Self.written(value)
                == Array(
                    "{\"10\":8,\"9\":9,\"B\":6,\"_\":7,\"e\u{301}\":2,\"f\":1,\"\u{E8}z\":3,\"\u{FF5E}\":4,\"😀\":5}"
                        .utf8
                )
        )
        #expect(Self.written(value) == (try Self.encoded(value)))
    }

    @Test func escapesAsEncoderDoes() {
        #expect(
            CanonicalJSON.text("a\"b\\c/d\u{1}\u{1F}\u{7F}\u{8}\u{C}\n\r\t")
                == #""a\"b\\c/d\u0001\u001f\#u{7F}\b\f\n\r\t""#
        )
    }

    @Test func datesAreUTCWithTheirMillisecondsRounded() {
        let cases: [(Int64, String)] = [
            (0, "1970-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (1_764_547_200_330, "2025-12-01T00:00:00.330Z"),
            (951_868_799_999, "2000-02-29T23:59:59.999Z"),
            (-11_676_096_000_000, "1600-01-01T00:00:00.000Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ]
        for (milliseconds, text) in cases {
            #expect(CanonicalJSON.formatDate(Date(timeIntervalSince1970: Double(milliseconds) / 1000)) == text)
        }
        // Half a millisecond and more rounds up; less rounds down.
        #expect(CanonicalJSON.formatDate(Date(timeIntervalSince1970: 0.0125)) == "1970-01-01T00:00:00.013Z")
        #expect(CanonicalJSON.formatDate(Date(timeIntervalSince1970: 0.0124)) == "1970-01-01T00:00:00.012Z")
    }

    /// From 1600 on, where Foundation's calendar is Gregorian (before the 1582 reform it is Julian).
    @Test func datesAgreeWithFoundationsCalendarAndReadBackAsThemselves() throws {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<5000 {
            let milliseconds = Int64.random(in: -11_676_096_000_000..<253_402_300_800_000, using: &rng)
            let text = CanonicalJSON.formatDate(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            // Foundation is exact on whole seconds; the fraction is the milliseconds themselves.
            let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
            let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(
                .iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted)
            )
            let fraction = String(format: "%03lld", milliseconds - seconds * 1000)
            #expect(text == whole.dropLast() + "." + fraction + "Z")
            let back = try #require(CanonicalJSON.parseDate(text))
            #expect(Int64((back.timeIntervalSince1970 * 1000).rounded()) == milliseconds)
        }
    }

    @Test(
        arguments: [
            ("2026-12-01T09:30:00Z", 1_796_117_400_000),
            ("2026-12-01t09:30:00z", 1_796_117_400_000),
            ("2026-12-01 09:30:00Z", 1_796_117_400_000),
            ("2026-12-01T09:30:00.25+01:00", 1_796_113_800_250),
            ("2026-12-01T09:30:00.123456-23:42", 1_796_202_720_123),
            ("1838-09-24T02:57:14+18:36", -4_142_590_726_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("1969-12-31T23:59:59.999Z", -1),
        ] as [(String, Int64)]
    )
    func readsRFC3339TimesWithAnyOffset(_ text: String, _ milliseconds: Int64) throws {
        let date = try #require(CanonicalJSON.parseDate(text))
        #expect(Int64((date.timeIntervalSince1970 * 1000).rounded()) == milliseconds)
    }

    @Test(arguments: [
        "2026-12-01T09:30:00", "2026-12-01", "2026-02-29T00:00:00Z", "2026-12-01T24:00:00Z",
        "2026-12-01T09:30:00+24:00",
        "2026-12-01T09:30:00.Z", "2026-12-01T09:30Z", " 2026-12-01T09:30:00Z", "2026-12-01T09:30:00Zx",
    ])
    func refusesWhatIsNotRFC3339WithAZone(_ text: String) {
        #expect(CanonicalJSON.parseDate(text) == nil)
    }
}
