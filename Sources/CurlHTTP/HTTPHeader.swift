/// One HTTP header field, as sent in a request or received in a response.
///
/// Names are kept as given; ``HTTPResponse/header(_:)`` compares them case-insensitively. A request whose header
/// name or value contains CR, LF or NUL is rejected with ``HTTPClientError/invalidRequest`` before anything is sent,
/// so untrusted input cannot inject extra header lines.
public struct HTTPHeader: Sendable, Hashable {
    /// The field name, e.g. `Content-Type`.
    public var name: String
    /// The field value, without surrounding whitespace.
    public var value: String

    /// Creates a header field.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension HTTPHeader {
    /// Whether `name` is a non-empty RFC 9110 token (no whitespace, separators, colon or control characters).
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isTokenByte)
    }

    /// Whether `value` is safe to put on one header line: no CR, LF or NUL.
    static func isValidValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    /// Whether `byte` may appear in an RFC 9110 token (header names and methods).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

extension Array where Element == HTTPHeader {
    /// The value of the first header named `name`, compared case-insensitively.
    func firstValue(named name: String) -> String? {
        let wanted = name.lowercased()
        return first { $0.name.lowercased() == wanted }?.value
    }
}
