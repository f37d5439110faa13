/// A strict check of JSON syntax (RFC 8259), run on a body before it is decoded.
///
/// Foundation's decoder is lenient in ways that matter to a daemon that must not act on a malformed request: it
/// takes a trailing comma (`{"a":1,}`) and overlooks a NUL after the closing brace. What it would take from such a
/// body is a guess at what the client meant, so the socket refuses the body instead. This check is iterative (an
/// explicit stack, no recursion) and bounded in depth, so no body can exhaust the stack.
public enum StrictJSON {
    /// Where and why a body is not JSON.
    public struct SyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Deeper nesting than any job needs is refused rather than walked.
    public static let maxDepth = 32

    /// Throws unless `bytes` is exactly one JSON value (with optional whitespace around it) in valid UTF-8.
    public static func validate(_ bytes: some Collection<UInt8>) throws(SyntaxError) {
        var scanner = Scanner(bytes: Array(bytes))
        try scanner.document()
    }

    private enum Container {
        case object
        case array
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: index, reason: reason) }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
            guard current == byte else { throw fail("expected \(what)") }
            index += 1
        }

        mutating func document() throws(SyntaxError) {
            var stack: [Container] = []
            skipWhitespace()
            // Each turn reads one value; containers push, and their ends are read when a value completes.
            valueLoop: while true {
                skipWhitespace()
                switch current {
                case UInt8(ascii: "{")?:
                    if try open(.object, &stack) {
                        try key()
                        continue valueLoop
                    }
                case UInt8(ascii: "[")?:
                    if try open(.array, &stack) { continue valueLoop }
                case UInt8(ascii: "\"")?:
                    try string()
                case UInt8(ascii: "t")?:
                    try literal("true")
                case UInt8(ascii: "f")?:
                    try literal("false")
                case UInt8(ascii: "n")?:
                    try literal("null")
                case let byte? where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
                    try number()
                case nil:
                    throw fail("the body ends where a value should be")
                default:
                    throw fail("a value cannot start here")
                }
                // A value is complete: close containers as their ends come, or go on to the next member.
                while let container = stack.last {
                    skipWhitespace()
                    let close = container == .object ? UInt8(ascii: "}") : UInt8(ascii: "]")
                    if current == close {
                        index += 1
                        stack.removeLast()
                        continue
                    }
                    guard current == UInt8(ascii: ",") else {
                        throw fail(container == .object ? "expected , or }" : "expected , or ]")
                    }
                    index += 1
                    skipWhitespace()
                    if container == .object { try key() }
                    continue valueLoop
                }
                skipWhitespace()
                guard index == bytes.count else { throw fail("more after the end of the JSON value") }
                return
            }
        }

        /// Reads a container's opening; `true` when a member follows (the container is pushed), `false` when it
        /// was empty and is already closed.
        mutating func open(_ container: Container, _ stack: inout [Container]) throws(SyntaxError) -> Bool {
            index += 1
            skipWhitespace()
            if current == (container == .object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                index += 1
                return false
            }
            guard stack.count < StrictJSON.maxDepth else { throw fail("nesting deeper than \(StrictJSON.maxDepth)") }
            stack.append(container)
            return true
        }

        /// `"name" :` inside an object (a trailing comma lands here and fails: no name follows).
        mutating func key() throws(SyntaxError) {
            guard current == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), ":")
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            for byte in word.utf8 {
                guard current == byte else { throw fail("expected \(word)") }
                index += 1
            }
        }

        mutating func digits() -> Int {
            let start = index
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index - start
        }

        mutating func number() throws(SyntaxError) {
            if current == UInt8(ascii: "-") { index += 1 }
            if current == UInt8(ascii: "0") {
                index += 1
            } else if digits() == 0 {
                throw fail("expected a digit")
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail("expected a digit after the decimal point") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail("expected a digit in the exponent") }
            }
        }

        /// A string: escapes as RFC 8259 lists them, no raw control characters, valid UTF-8 (no overlongs, no
        /// surrogates, nothing past U+10FFFF).
        mutating func string() throws(SyntaxError) {
            index += 1  // the opening quote
            while true {
                guard let byte = current else { throw fail("the body ends inside a string") }
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let escaped = current else { throw fail("the body ends inside an escape") }
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        index += 1
                        for _ in 0..<4 {
                            guard let hex = current, Self.isHex(hex) else { throw fail("expected four hex digits after \\u") }
                            index += 1
                        }
                    default:
                        throw fail("unknown escape")
                    }
                case 0x00..<0x20:
                    throw fail("a raw control character inside a string")
                case 0x20..<0x80:
                    index += 1
                default:
                    try utf8Sequence(first: byte)
                }
            }
        }

        static func isHex(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
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
