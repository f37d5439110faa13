#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Writes JSON bytes exactly as ``CanonicalJSON/encoder()`` writes them (sorted keys in UTF-8 byte order, `/`
/// unescaped, control characters as `\b \f \n \r \t` or `\u00xx`), without `Codable`'s cost: the socket's job
/// answers and the store's JSON columns are written on every submission, and `JSONEncoder` took a fifth of a
/// submission's CPU (docs/performance.md, P3). Tests compare it with `JSONEncoder` byte for byte.
///
/// Dates are ``CanonicalJSON/formatDate(_:)``'s text, with the milliseconds rounded from the date itself.
///
/// An object's members are written in the order the caller gives them: ``key(_:)`` callers write them sorted.
public struct CanonicalJSONWriter: Sendable {
    public private(set) var bytes: [UInt8]
    /// Whether the next member or element needs a comma before it.
    private var needsComma = false

    public init(reservingCapacity capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The bytes written, as `Data`.
    public var data: Data { Data(bytes) }

    /// An object: `body` writes its members with ``key(_:)`` and a value each.
    public mutating func object(_ body: (inout CanonicalJSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        let outer = needsComma
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = outer
    }

    /// An array of `elements`, each written by `element`.
    public mutating func array<Element>(
        _ elements: some Sequence<Element>,
        _ element: (inout CanonicalJSONWriter, Element) -> Void
    ) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for item in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            let outer = needsComma
            element(&self, item)
            needsComma = outer
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A member's key (plain ASCII that needs no escaping), with the comma before it when one is due.
    public mutating func key(_ name: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// `"name":"text"` when `value` is there; nothing otherwise (as a synthesized `Encodable` leaves a `nil` out).
    public mutating func member(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    /// `"name":"2026-…Z"` when `value` is there.
    public mutating func member(_ name: StaticString, _ value: Date?) {
        guard let value else { return }
        key(name)
        date(value)
    }

    /// `"name":42` when `value` is there.
    public mutating func member(_ name: StaticString, _ value: (some BinaryInteger)?) {
        guard let value else { return }
        key(name)
        integer(value)
    }

    /// A member's key of any text.
    public mutating func key(text name: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A line break between values (NDJSON).
    public mutating func newline() { bytes.append(0x0A) }

    public mutating func null() { bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }

    public mutating func bool(_ value: Bool) {
        if value {
            bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        } else {
            bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        }
    }

    public mutating func integer(_ value: some BinaryInteger) {
        // Up to 20 characters: a small string, so no allocation.
        bytes.append(contentsOf: value.description.utf8)
    }

    /// A non-integral number. `JSONEncoder`'s shortest-form text has rules of its own (`1e+21`, `1e-07`), so this
    /// rare case asks it.
    public mutating func number(_ value: Double) {
        guard value.isFinite, let text = try? CanonicalJSON.encoder().encode([value]) else {
            null()
            return
        }
        bytes.append(contentsOf: text.dropFirst().dropLast())
    }

    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A date as ``CanonicalJSON/formatDate(_:)`` writes it.
    public mutating func date(_ value: Date) {
        bytes.append(UInt8(ascii: "\""))
        CanonicalJSON.appendDate(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Any JSON value, objects with their keys sorted.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .integer(let number): integer(number)
        case .number(let number): self.number(number)
        case .string(let text): string(text)
        case .array(let elements): array(elements) { $0.value($1) }
        case .object(let members): object(members)
        }
    }

    /// An object of JSON values, its keys in UTF-8 byte order (as `JSONEncoder`'s `.sortedKeys` orders them).
    public mutating func object(_ members: [String: JSONValue]) {
        let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        object { writer in
            for (name, member) in sorted {
                writer.key(text: name)
                writer.value(member)
            }
        }
    }
}

extension CanonicalJSON {
    /// `value`'s canonical JSON text.
    public static func text(_ value: JSONValue) -> String {
        var writer = CanonicalJSONWriter(reservingCapacity: 256)
        writer.value(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Appends `2026-11-23T01:02:03.456Z` for `date`, its milliseconds rounded to the nearest (so a time stored as
    /// integer milliseconds reads back as itself). Years before 1600 (where Foundation's calendar turns Julian) and after
    /// 9999 are Foundation's text.
    static func appendDate(_ date: Date, to bytes: inout [UInt8]) {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        // 1600-01-01 and 10000-01-01 as milliseconds since 1970.
        guard milliseconds >= -11_676_096_000_000, milliseconds < 253_402_300_800_000 else {
            bytes.append(contentsOf: legacyFormat(date).utf8)
            return
        }
        let total = Int64(milliseconds)
        let (days, inDay) = total.floorDivided(by: 86_400_000)
        let (year, month, day) = civilDate(daysSince1970: days)
        func append(_ value: Int64, width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        append(year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        append(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        append(day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        append(inDay / 3_600_000, width: 2)
        bytes.append(UInt8(ascii: ":"))
        append(inDay / 60_000 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        append(inDay / 1000 % 60, width: 2)
        bytes.append(UInt8(ascii: "."))
        append(inDay % 1000, width: 3)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    /// Quotient rounded toward minus infinity, and the remainder that goes with it (never negative).
    fileprivate func floorDivided(by divisor: Int64) -> (Int64, Int64) {
        let remainder = self % divisor
        return remainder < 0 ? (self / divisor - 1, remainder + divisor) : (self / divisor, remainder)
    }
}

/// A value that writes its own canonical JSON (what `JSONEncoder` with ``CanonicalJSON/encoder()`` would write).
public protocol CanonicalJSONWritable {
    func write(to writer: inout CanonicalJSONWriter)
}

extension JSONValue: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) { writer.value(self) }
}
