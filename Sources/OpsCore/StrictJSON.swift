/// A strict JSON parser (RFC 8259): one pass that checks the syntax and builds the ``JSONValue``.
///
/// Foundation's decoder is lenient in ways that matter to a daemon that must not act on a malformed request: it
/// takes a trailing comma (`{"a":1,}`) and overlooks a NUL after the closing brace. What it would take from such a
/// body is a guess at what the client meant, so the socket refuses the body instead. Also refused: a member name
/// twice in one object (which one would count is a guess too), a `\u` escape that is half a surrogate pair, and a
/// number too large for a `Double`.
///
/// The parser is iterative (an explicit stack, no recursion) and bounded in depth, so no body can exhaust the stack.
/// It is also what the store reads its JSON columns with: one pass, where Foundation's `Decodable` route to a
/// ``JSONValue`` tries each type in turn and throws (and formats) an error for every miss.
public enum StrictJSON {
    /// Where and why a body is not JSON.
    public struct SyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Deeper nesting than any job needs is refused rather than walked.
    public static let maxDepth = 32

    /// The one JSON value in `bytes` (with optional whitespace around it), which must be valid UTF-8.
    ///
    /// Numbers without a fraction or exponent that fit an `Int64`, and numbers whose value is a whole number that
    /// fits one (`1.0`, `1e2`), are ``JSONValue/integer(_:)``; the rest are ``JSONValue/number(_:)``.
    public static func parse(_ bytes: some Collection<UInt8>) throws(SyntaxError) -> JSONValue {
        var parser = Parser(bytes: Array(bytes))
        return try parser.document()
    }

    /// An object or array still open, with what it holds so far.
    private struct Open {
        var isObject: Bool
        var members: [String: JSONValue] = [:]
        var elements: [JSONValue] = []
        /// The member name whose value is being read, and where it started.
        var key = ""
        var keyOffset = 0
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String, at offset: Int? = nil) -> SyntaxError {
            SyntaxError(offset: offset ?? index, reason: reason)
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                let byte = bytes[index]
                guard byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D else { return }
                index += 1
            }
        }

        mutating func document() throws(SyntaxError) -> JSONValue {
            var stack: [Open] = []
            // Each turn reads one value; containers push, and their ends are read when a value completes.
            valueLoop: while true {
                skipWhitespace()
                var value: JSONValue
                switch current {
                case UInt8(ascii: "{")?:
                    guard let open = try open(object: true, depth: stack.count) else {
                        value = .object([:])
                        break
                    }
                    stack.append(open)
                    continue valueLoop
                case UInt8(ascii: "[")?:
                    guard let open = try open(object: false, depth: stack.count) else {
                        value = .array([])
                        break
                    }
                    stack.append(open)
                    continue valueLoop
                case UInt8(ascii: "\"")?:
                    value = .string(try string())
                case UInt8(ascii: "t")?:
                    try literal("true")
                    value = .bool(true)
                case UInt8(ascii: "f")?:
                    try literal("false")
                    value = .bool(false)
                case UInt8(ascii: "n")?:
                    try literal("null")
                    value = .null
                case let byte?
                where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
                    value = try number()
                case nil:
                    throw fail("the body ends where a value should be")
                default:
                    throw fail("a value cannot start here")
                }
                // A value is complete: put it in its container, close containers as their ends come, or go on to
                // the container's next member.
                while !stack.isEmpty {
                    let top = stack.count - 1
                    if stack[top].isObject {
                        let key = stack[top].key
                        guard stack[top].members.updateValue(value, forKey: key) == nil else {
                            throw fail("the member name \"\(key)\" appears twice", at: stack[top].keyOffset)
                        }
                    } else {
                        stack[top].elements.append(value)
                    }
                    skipWhitespace()
                    let isObject = stack[top].isObject
                    if current == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        index += 1
                        let closed = stack.removeLast()
                        value = closed.isObject ? .object(closed.members) : .array(closed.elements)
                        continue
                    }
                    guard current == UInt8(ascii: ",") else {
                        throw fail(isObject ? "expected , or }" : "expected , or ]")
                    }
                    index += 1
                    if isObject {
                        skipWhitespace()
                        stack[top].keyOffset = index
                        stack[top].key = try key()
                    }
                    continue valueLoop
                }
                skipWhitespace()
                guard index == bytes.count else { throw fail("more after the end of the JSON value") }
                return value
            }
        }

        /// Reads a container's opening: the open container, its first member name read, or `nil` when it was empty
        /// and is already closed.
        mutating func open(object: Bool, depth: Int) throws(SyntaxError) -> Open? {
            index += 1
            skipWhitespace()
            if current == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                index += 1
                return nil
            }
            guard depth < StrictJSON.maxDepth else { throw fail("nesting deeper than \(StrictJSON.maxDepth)") }
            var open = Open(isObject: object)
            if object {
                open.keyOffset = index
                open.key = try key()
            }
            return open
        }

        /// `"name" :` inside an object (a trailing comma lands here and fails: no name follows).
        mutating func key() throws(SyntaxError) -> String {
            guard current == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            let name = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw fail("expected :") }
            index += 1
            return name
        }

        mutating func literal(_ word: StaticString) throws(SyntaxError) {
            let start = index
            for offset in 0..<word.utf8CodeUnitCount {
                guard current == word.utf8Start[offset] else { throw fail("expected \(word)", at: start) }
                index += 1
            }
        }

        mutating func digits() -> Int {
            let start = index
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index - start
        }

        mutating func number() throws(SyntaxError) -> JSONValue {
            let start = index
            var whole = true
            if current == UInt8(ascii: "-") { index += 1 }
            if current == UInt8(ascii: "0") {
                index += 1
            } else if digits() == 0 {
                throw fail("expected a digit")
            }
            if current == UInt8(ascii: ".") {
                index += 1
                whole = false
                guard digits() > 0 else { throw fail("expected a digit after the decimal point") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                whole = false
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail("expected a digit in the exponent") }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if whole, let integer = Int64(text) { return .integer(integer) }
            guard let double = Double(text), double.isFinite else { throw fail("a number too large", at: start) }
            if let integer = Int64(exactly: double) { return .integer(integer) }
            return .number(double)
        }

        /// A string: escapes as RFC 8259 lists them, no raw control characters, valid UTF-8 (no overlongs, no
        /// surrogates, nothing past U+10FFFF), and `\u` escapes that pair their surrogates.
        mutating func string() throws(SyntaxError) -> String {
            index += 1  // the opening quote
            let start = index
            // Most strings have no escape: they are checked and then taken as they are.
            while true {
                guard let byte = current else { throw fail("the body ends inside a string") }
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(decoding: bytes[start..<(index - 1)], as: UTF8.self)
                case UInt8(ascii: "\\"):
                    return try escapedString(from: start)
                case 0x00..<0x20:
                    throw fail("a raw control character inside a string")
                case 0x20..<0x80:
                    index += 1
                default:
                    try utf8Sequence(first: byte)
                }
            }
        }

        /// The rest of a string that has escapes, from its first backslash; `start` is its first byte.
        mutating func escapedString(from start: Int) throws(SyntaxError) -> String {
            var text = Array(bytes[start..<index])
            while true {
                guard let byte = current else { throw fail("the body ends inside a string") }
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(decoding: text, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let escaped = current else { throw fail("the body ends inside an escape") }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
                    case UInt8(ascii: "b"): text.append(0x08)
                    case UInt8(ascii: "f"): text.append(0x0C)
                    case UInt8(ascii: "n"): text.append(0x0A)
                    case UInt8(ascii: "r"): text.append(0x0D)
                    case UInt8(ascii: "t"): text.append(0x09)
                    case UInt8(ascii: "u"): append(try unicodeEscape(), to: &text)
                    default:
                        index -= 1
                        throw fail("unknown escape")
                    }
                case 0x00..<0x20:
                    throw fail("a raw control character inside a string")
                case 0x20..<0x80:
                    text.append(byte)
                    index += 1
                default:
                    let sequenceStart = index
                    try utf8Sequence(first: byte)
                    text.append(contentsOf: bytes[sequenceStart..<index])
                }
            }
        }

        /// The scalar of a `\u` escape whose `\u` was read: four hex digits, or a surrogate pair of two escapes.
        mutating func unicodeEscape() throws(SyntaxError) -> Unicode.Scalar {
            let escapeStart = index - 2
            let unit = try hexQuad()
            switch unit {
            case 0xD800...0xDBFF:
                guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u")
                else {
                    throw fail("a \\u escape is half a surrogate pair", at: escapeStart)
                }
                index += 2
                let low = try hexQuad()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw fail("a \\u escape is half a surrogate pair", at: escapeStart)
                }
                return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
            case 0xDC00...0xDFFF:
                throw fail("a \\u escape is half a surrogate pair", at: escapeStart)
            default:
                return Unicode.Scalar(unit)!
            }
        }

        mutating func hexQuad() throws(SyntaxError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = current, let digit = Self.hexValue(byte) else {
                    throw fail("expected four hex digits after \\u")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        func append(_ scalar: Unicode.Scalar, to text: inout [UInt8]) {
            text.append(contentsOf: UTF8.encode(scalar)!)
        }

        static func hexValue(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }

        /// One multi-byte UTF-8 sequence (RFC 3629's table of well-formed sequences).
        mutating func utf8Sequence(first: UInt8) throws(SyntaxError) {
            let (length, secondRange): (Int, ClosedRange<UInt8>) =
                switch first {
                case 0xC2...0xDF: (2, 0x80...0xBF)
                case 0xE0: (3, 0xA0...0xBF)
                case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80...0xBF)
                case 0xED: (3, 0x80...0x9F)
                case 0xF0: (4, 0x90...0xBF)
                case 0xF1...0xF3: (4, 0x80...0xBF)
                case 0xF4: (4, 0x80...0x8F)
                default: (0, 0...0)
                }
            guard length > 0 else { throw fail("invalid UTF-8") }
            for position in 1..<length {
                let next = index + position
                guard next < bytes.count else { throw fail("invalid UTF-8") }
                let range: ClosedRange<UInt8> = position == 1 ? secondRange : 0x80...0xBF
                guard range.contains(bytes[next]) else { throw fail("invalid UTF-8") }
            }
            index += length
        }
    }
}
