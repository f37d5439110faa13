import Foundation
import OpsCore
import Testing

/// The strict parser in front of every request body and under the store's JSON columns: RFC 8259, nothing more,
/// nothing less, in one pass.
@Suite struct StrictJSONTests {
    static let accepted: [String] = [
        #"{"kind":"site.delete","params":{"site_id":"x"}}"#,
        " \t\r\n{ \"a\" : [ 1 , -0.5e+3 , 0 , 2E-2 , true , false , null , \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\" ] } \n",
        "[]", "{}", "0", "\"x\"", "null", "[[[]]]",
        "\"caf\u{E9} \u{1F680} \u{FFFD}\"",
        String(repeating: "[", count: StrictJSON.maxDepth) + String(repeating: "]", count: StrictJSON.maxDepth),
    ]

    @Test(arguments: accepted)
    func validJSONPasses(_ text: String) throws {
        _ = try StrictJSON.parse(Array(text.utf8))
        // And Foundation agrees it is JSON.
        _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var bytes: [UInt8]
        var reason: String
        var testDescription: String { "\(String(decoding: bytes.prefix(40), as: UTF8.self)) → \(reason)" }
        init(_ text: String, _ reason: String) { self.init(Array(text.utf8), reason) }
        init(_ bytes: [UInt8], _ reason: String) {
            self.bytes = bytes
            self.reason = reason
        }
    }

    static let refused: [Bad] = [
        Bad(#"{"kind":"site.delete","params":{"site_id":"x",}}"#, "expected a member name"),
        Bad("[1,2,]", "a value cannot start here"),
        Bad(Array(#"{"a":1}"#.utf8) + [0], "more after the end"),
        Bad(#"{"a":1} {"b":2}"#, "more after the end"),
        Bad("", "ends where a value should be"),
        Bad("{", "expected a member name"),
        Bad(#"{"a" 1}"#, "expected :"),
        Bad(#"{"a":1 "b":2}"#, "expected , or }"),
        Bad("[1 2]", "expected , or ]"),
        Bad("{'a':1}", "expected a member name"),
        Bad("// c\n{}", "a value cannot start here"),
        Bad("NaN", "a value cannot start here"),
        Bad("01", "more after the end"),
        Bad("-", "expected a digit"),
        Bad("1.", "after the decimal point"),
        Bad("1e", "in the exponent"),
        Bad("tru", "expected true"),
        Bad("\"a\tb\"", "raw control character"),
        Bad("\"\\x\"", "unknown escape"),
        Bad("\"\\u12G4\"", "hex digits"),
        Bad("\"abc", "ends inside a string"),
        Bad([0x22, 0xFF, 0x22], "invalid UTF-8"),
        Bad([0x22, 0xC0, 0xAF, 0x22], "invalid UTF-8"),  // overlong "/"
        Bad([0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8"),  // a surrogate
        Bad([0x22, 0xE2, 0x82, 0x22], "invalid UTF-8"),  // cut short
        Bad([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8"),  // past U+10FFFF
        Bad(String(repeating: "[", count: StrictJSON.maxDepth + 1), "nesting deeper"),
        Bad(String(repeating: "[", count: 100_000), "nesting deeper"),
        Bad(String(repeating: "{\"a\":", count: 100_000), "nesting deeper"),
        Bad(#"{"kind":"site.delete","kind":"site.clone"}"#, "appears twice"),
        Bad(#"{"a":{"b":1,"b":1}}"#, "appears twice"),
        Bad(#""\ud83d""#, "half a surrogate pair"),
        Bad(#""\ud83dx""#, "half a surrogate pair"),
        Bad(#""\ude80\ud83d""#, "half a surrogate pair"),
        Bad(#""\ud83d\u0041""#, "half a surrogate pair"),
        Bad("1e400", "a number too large"),
    ]

    @Test(arguments: refused)
    func malformedJSONIsRefusedWithItsReason(_ bad: Bad) {
        let error = #expect(throws: StrictJSON.SyntaxError.self) { _ = try StrictJSON.parse(bad.bytes) }
        #expect(error?.reason.contains(bad.reason) == true, "got \(error.map(String.init(describing:)) ?? "nil")")
    }

    @Test func parseBuildsTheValue() throws {
        let text =
            #"{"a":[1,-2.5,true,false,null,"x"],"b":{"c":"caf\u00e9 \ud83d\ude80 \"q\" \\ \/ \n\t"},"d":[],"e":{}}"#
        let value = try StrictJSON.parse(Array(text.utf8))
        #expect(
            value
                == .object([
                    "a": .array([.integer(1), .number(-2.5), .bool(true), .bool(false), .null, .string("x")]),
                    "b": .object(["c": .string("caf\u{E9} \u{1F680} \"q\" \\ / \n\t")]),
                    "d": .array([]), "e": .object([:]),
                ])
        )
    }

    @Test func numbersKeepTheirIntegerForm() throws {
        #expect(try StrictJSON.parse(Array("123".utf8)) == .integer(123))
        #expect(try StrictJSON.parse(Array("-0".utf8)) == .integer(0))
        #expect(try StrictJSON.parse(Array("9223372036854775807".utf8)) == .integer(.max))
        #expect(try StrictJSON.parse(Array("1.0".utf8)) == .integer(1))
        #expect(try StrictJSON.parse(Array("1e2".utf8)) == .integer(100))
        #expect(try StrictJSON.parse(Array("0.25".utf8)) == .number(0.25))
        #expect(try StrictJSON.parse(Array("9223372036854775808".utf8)) == .number(9_223_372_036_854_775_808))
    }

    /// Raw UTF-8, escapes and plain text come out as the same Swift strings Foundation makes of them.
    @Test(arguments: [
        #""plain""#, #""caf\u00e9""#, "\"caf\u{E9} \u{1F680}\"", #""\ud83d\ude80 and \u0000""#, #""tab\there""#,
    ])
    func stringsMatchFoundation(_ text: String) throws {
        let ours = try StrictJSON.parse(Array(text.utf8))
        let foundation = try JSONDecoder().decode(String.self, from: Data(text.utf8))
        #expect(ours == .string(foundation))
    }
}
