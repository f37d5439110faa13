import Foundation

/// A request body as JSON, with the types JSON Schema tells apart (a boolean is never a number).
enum SimJSON: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([SimJSON])
    case object([String: SimJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([SimJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: SimJSON].self))
        }
    }

    static func parse(_ data: Data) -> SimJSON? { try? JSONDecoder().decode(SimJSON.self, from: data) }

    subscript(_ key: String) -> SimJSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    var array: [SimJSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    var strings: [String]? { array?.compactMap(\.string) }
}

/// The part of JSON Schema Kinsta's OpenAPI file uses for request bodies and parameters.
indirect enum SimSchema: Sendable {
    /// A string, optionally one of `values`, a UUID, matching `pattern`, or within a length.
    case string(
        values: [String]? = nil,
        uuid: Bool = false,
        pattern: String? = nil,
        minLength: Int? = nil,
        maxLength: Int? = nil
    )
    case number(minimum: Double? = nil)
    case boolean
    case array(of: SimSchema)
    /// An object with its fields (name, schema, required) and whether other fields are refused.
    case object([SimField], closed: Bool = false)

    static let text = SimSchema.string()
    static let uuid = SimSchema.string(uuid: true)
    static let strings = SimSchema.array(of: .text)
}

struct SimField: Sendable {
    var name: String
    var schema: SimSchema
    var required: Bool

    static func required(_ name: String, _ schema: SimSchema) -> SimField {
        SimField(name: name, schema: schema, required: true)
    }

    static func optional(_ name: String, _ schema: SimSchema) -> SimField {
        SimField(name: name, schema: schema, required: false)
    }
}

extension SimSchema {
    /// Why `value` does not fit, as Kinsta's validator words it (`"field" is required`), or nil when it fits.
    func refusal(of value: SimJSON, at label: String) -> String? {
        switch self {
        case .string(let values, let uuid, let pattern, let minLength, let maxLength):
            guard let text = value.string else { return "\"\(label)\" must be a string" }
            if let values, !values.contains(text) {
                return "\"\(label)\" must be one of [\(values.joined(separator: ", "))]"
            }
            if uuid, !Self.isUUID(text) { return "\"\(label)\" must be a valid GUID" }
            if let minLength, text.count < minLength {
                return "\"\(label)\" length must be at least \(minLength) characters long"
            }
            if let maxLength, text.count > maxLength {
                return "\"\(label)\" length must be less than or equal to \(maxLength) characters long"
            }
            if let pattern, text.range(of: pattern, options: .regularExpression) == nil {
                return "\"\(label)\" with value \"\(text)\" fails to match the required pattern: \(pattern)"
            }
            return nil
        case .number(let minimum):
            guard let number = value.number else { return "\"\(label)\" must be a number" }
            if let minimum, number < minimum {
                return "\"\(label)\" must be greater than or equal to \(Self.format(minimum))"
            }
            return nil
        case .boolean:
            return value.bool == nil ? "\"\(label)\" must be a boolean" : nil
        case .array(let items):
            guard let array = value.array else { return "\"\(label)\" must be an array" }
            for (index, item) in array.enumerated() {
                if let refusal = items.refusal(of: item, at: "\(label)[\(index)]") { return refusal }
            }
            return nil
        case .object(let fields, let closed):
            guard case .object(let object) = value else {
                return label.isEmpty ? "\"value\" must be of type object" : "\"\(label)\" must be of type object"
            }
            let prefix = label.isEmpty ? "" : label + "."
            for field in fields {
                guard let member = object[field.name] else {
                    if field.required { return "\"\(prefix)\(field.name)\" is required" }
                    continue
                }
                if let refusal = field.schema.refusal(of: member, at: prefix + field.name) { return refusal }
            }
            if closed, let extra = object.keys.sorted().first(where: { key in !fields.contains { $0.name == key } }) {
                return "\"\(prefix)\(extra)\" is not allowed"
            }
            return nil
        }
    }

    static func isUUID(_ text: String) -> Bool {
        text.range(
            of: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
            options: .regularExpression
        ) != nil
    }

    static func format(_ number: Double) -> String {
        number == number.rounded() ? String(Int64(number)) : String(number)
    }
}
