#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Masks every secret value the daemon knows in text that came from outside (Kinsta's messages and bodies, a
/// read-through answer, a webhook receiver's reply) before that text is stored, logged, relayed or delivered.
///
/// A server may echo what it was sent: the `Authorization` header, the request body with `admin_password`. What the
/// daemon knows are the values themselves, so it looks for them, not for field names: each secret, as it is and in
/// the forms an echo takes on the way (JSON-escaped, percent-encoded), is replaced by `[redacted]`. Masking runs on
/// whole texts before anything shortens them, so a secret cut in half by a length limit cannot slip through.
public struct SecretMask: @unchecked Sendable, Hashable {
    public static let placeholder = "[redacted]"

    /// The secret values.
    public let secrets: Set<String>
    /// The texts to replace, longest first, so a secret that contains another is replaced whole.
    public let needles: [String]

    /// Names of members whose values are secret wherever they appear (`admin_password`): a second layer for echoes of
    /// values the daemon no longer holds (a job's secrets are erased once Kinsta accepts it).
    public let names: Set<String>
    private let namePatterns: [(name: String, pattern: Regex<AnyRegexOutput>)]
    /// The needles' and the names' UTF-8, for the byte search that decides whether a text needs replacing at all
    /// (most do not: a sites list holds thousands of strings, none of them a secret).
    private let needleBytes: [[UInt8]]
    private let nameBytes: [[UInt8]]

    /// - Parameters:
    ///   - secrets: the secret values; empty ones are ignored.
    ///   - names: member names whose values are masked in JSON and in `"name": "value"` text.
    public init(_ secrets: some Sequence<String>, names: Set<String> = SecretMask.catalogNames) {
        self.names = names
        namePatterns = names == Self.catalogNames ? Self.catalogPatterns : Self.patterns(for: names)
        let secrets = Set(secrets.filter { !$0.isEmpty })
        var forms = Set<String>()
        for secret in secrets {
            forms.insert(secret)
            forms.insert(Self.jsonEscaped(secret, slash: false))
            forms.insert(Self.jsonEscaped(secret, slash: true))
            forms.insert(Self.percentEncoded(secret))
        }
        self.secrets = secrets
        needles = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
        needleBytes = needles.map { Array($0.utf8) }
        nameBytes = namePatterns.map { Array($0.name.utf8) }
    }

    public static let none = SecretMask([String](), names: [])

    /// The names of every secret parameter in the job catalog.
    public static let catalogNames: Set<String> = Set(
        JobKind.allCases.flatMap { $0.spec.parameters.filter(\.secret).map(\.name) }
    )

    /// The catalog's patterns, compiled once (a mask is rebuilt whenever a job's secrets are held or let go).
    /// Never mutated after it is made; `Regex` is a value type that is not declared `Sendable`.
    nonisolated(unsafe) private static let catalogPatterns = patterns(for: catalogNames)

    /// One pattern per name: `"name": "…"` (any JSON string value, escapes included), also inside an escaped JSON
    /// text (`\"name\":\"…\"`), and `name=…` in a form or query.
    private static func patterns(for names: Set<String>) -> [(name: String, pattern: Regex<AnyRegexOutput>)] {
        names.sorted().compactMap { name in
            let quoted = name.filter { $0.isLetter || $0.isNumber || $0 == "_" }
            guard !quoted.isEmpty,
                let pattern = try? Regex(
                    #"(\\?"\#(quoted)\\?"\s*:\s*\\?")((?:[^"\\]|\\[^"])*)(\\?")|(\#(quoted)=)([^&\s"]*)"#
                )
            else { return nil }
            return (name, pattern)
        }
    }

    public var isEmpty: Bool { needles.isEmpty && names.isEmpty }

    public static func == (lhs: SecretMask, rhs: SecretMask) -> Bool {
        lhs.secrets == rhs.secrets && lhs.names == rhs.names
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(secrets)
        hasher.combine(names)
    }

    /// This mask and `other`'s secrets together.
    public func adding(_ secrets: some Sequence<String>) -> SecretMask {
        let more = Set(secrets.filter { !$0.isEmpty }).subtracting(self.secrets)
        guard !more.isEmpty else { return self }
        return SecretMask(self.secrets.union(more), names: names)
    }

    /// `text` with every secret replaced.
    public func mask(_ text: String) -> String {
        var result = text
        for (needle, bytes) in zip(needles, needleBytes) where Self.occurs(bytes, in: result) {
            result = result.replacing(needle, with: Self.placeholder)
        }
        for ((_, pattern), bytes) in zip(namePatterns, nameBytes) where Self.occurs(bytes, in: result) {
            result = result.replacing(pattern) { match in
                if let prefix = match.output[1].substring {
                    return prefix + Self.placeholder + (match.output[3].substring ?? "")
                }
                return (match.output[4].substring ?? "") + Self.placeholder
            }
        }
        return result
    }

    /// The same value with every string (and every member name) masked.
    public func mask(_ value: JSONValue) -> JSONValue {
        guard !isEmpty else { return value }
        switch value {
        case .string(let text): return .string(mask(text))
        case .array(let items): return .array(items.map(mask))
        case .object(let members):
            var masked: [String: JSONValue] = [:]
            for (name, member) in members {
                masked[mask(name), default: .null] =
                    names.contains(name) && member != .null ? .string(Self.placeholder) : mask(member)
            }
            return .object(masked)
        case .null, .bool, .integer, .number: return value
        }
    }

    /// Whether `text` still holds a secret (for checks and tests).
    public func finds(in text: String) -> Bool {
        needleBytes.contains { Self.occurs($0, in: text) }
    }

    /// Whether the UTF-8 of `text` holds `needle`'s bytes: `memchr` to each place the first byte occurs, `memcmp`
    /// there (what `String.contains` costs per character, this costs per byte). Bytes match wherever the characters
    /// do, and a match inside a character too, which for masking errs the safe way.
    static func occurs(_ needle: [UInt8], in text: String) -> Bool {
        guard let first = needle.first else { return true }
        var text = text
        return text.withUTF8 { haystack in
            needle.withUnsafeBufferPointer { pattern in
                guard let base = haystack.baseAddress, let wanted = pattern.baseAddress else { return false }
                var offset = 0
                while haystack.count - offset >= pattern.count {
                    guard let found = memchr(base + offset, Int32(first), haystack.count - offset - pattern.count + 1)
                    else { return false }
                    let at = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + at, wanted, pattern.count) == 0 { return true }
                    offset = at + 1
                }
                return false
            }
        }
    }

    /// The secret as it appears inside a JSON string when the writer escapes the characters JSON requires (and `/`,
    /// which some writers escape too).
    static func jsonEscaped(_ text: String, slash: Bool) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where slash: out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The secret percent-encoded as a URL query or form body would carry it (unreserved characters kept).
    static func percentEncoded(_ text: String) -> String { KinstaCall.percentEncodePathSegment(text) }
}
