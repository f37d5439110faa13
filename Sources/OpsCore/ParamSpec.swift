/// The declared shape of one job parameter. Kinds are tables of these, so adding a kind is a declarative change.
public struct ParamSpec: Sendable, Hashable {
    /// What values a parameter accepts.
    public enum ValueType: Sendable, Hashable {
        /// Free text: non-empty, at most 255 characters, no control characters.
        case text
        /// Text of up to 16 KiB that may hold line breaks (an SSL certificate or key).
        case longText
        /// An identifier that goes into a URL path: letters, digits, `-`, `_` and `:` only, at most 128 characters.
        case identifier
        /// A UUID, `8-4-4-4-12` hex digits (where Kinsta's OpenAPI file says `format: uuid`).
        case uuid
        /// An e-mail address (one `@`, something on both sides).
        case email
        /// `true` or `false`.
        case boolean
        /// A whole number of at least `minimum` (Kinsta's backup IDs, thread counts, a TTL).
        case integer(minimum: Int64)
        /// One of a fixed set of strings.
        case oneOf([String])
        /// A non-empty list of values of one type. With `wrap`, Kinsta takes each item as an object
        /// `{wrap: item}` (`resource_records: [{"value": …}]`); callers may give either form.
        indirect case list(ValueType, wrap: String?)
        /// A path below a folder: `/`, then segments of letters, digits, `-` and `_` (a web root subfolder).
        case subfolder
        /// A WP-CLI command as Kinsta takes it: `wp` and arguments of letters, digits, spaces and `_-./:=@'`, at most
        /// 5000 characters.
        case wpCommand

        /// A whole number ≥ 1.
        public static var integer: ValueType { .integer(minimum: 1) }
    }

    /// Kinsta's own name of the parameter (`display_name`, `source_env_id`, …).
    public var name: String
    public var type: ValueType
    public var required: Bool
    /// Secret values are erased from the database once Kinsta accepted the job and never appear in any answer.
    public var secret: Bool
    /// A value used when the caller gives none.
    public var defaultValue: JSONValue?
    /// Filled from the configuration when absent (`company`, `notified_user_id`).
    public var configured: ConfiguredDefault?
    /// Whether it is filled from the configured company ID.
    public var defaultsToCompany: Bool { configured == .company }
    /// One line for `kinsta-ops submit --help` and error messages.
    public var help: String

    public init(
        _ name: String,
        _ type: ValueType,
        required: Bool = false,
        secret: Bool = false,
        default defaultValue: JSONValue? = nil,
        configured: ConfiguredDefault? = nil,
        help: String
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.secret = secret
        self.defaultValue = defaultValue
        self.configured = configured
        self.help = help
    }
}

/// A value the configuration provides for a parameter the caller left out.
public enum ConfiguredDefault: String, Sendable, Hashable {
    /// `[kinsta] company_id`.
    case company
    /// `[kinsta] notified_user_id`.
    case notifiedUser = "notified_user_id"
}

extension ConfiguredDefault {
    /// What the configuration fills in, if it does.
    public func value(in defaults: ParamDefaults) -> String? {
        switch self {
        case .company: defaults.company
        // The older restore body names no user.
        case .notifiedUser: defaults.legacyRestoreBody ? nil : defaults.notifiedUserID
        }
    }
}

/// A parameter problem, named by field, as the socket API reports it (422 with `field`).
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The parameter at fault, when one is.
    public var field: String?
    public var message: String

    public init(field: String?, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { message }
}

extension ParamSpec {
    /// Checks one given value against the spec, returning it in canonical form.
    ///
    /// Strings that stand for booleans or numbers are not coerced: a caller that sends `"true"` for a boolean gets an
    /// error rather than a guess.
    func validate(_ value: JSONValue) throws(ValidationError) -> JSONValue {
        try Self.validate(value, as: type, name: name)
    }

    private static func validate(
        _ value: JSONValue,
        as type: ValueType,
        name: String
    ) throws(ValidationError)
        -> JSONValue
    {
        switch (type, value) {
        case (.boolean, .bool):
            return value
        case (.integer(let minimum), .integer(let number)) where number >= minimum:
            return value
        case (.integer(let minimum), .number(let number))
        where number >= Double(minimum) && number == number.rounded() && number < 9e15:
            return .integer(Int64(number))
        case (.integer(let minimum), .integer), (.integer(let minimum), .number):
            throw ValidationError(field: name, "\(name) must be a whole number of at least \(minimum)")
        case (.text, .string(let text)):
            try checkText(text, maxLength: 255, name: name)
            return value
        case (.longText, .string(let text)):
            try checkText(text, maxLength: 16_384, name: name, lineBreaks: true)
            return value
        case (.identifier, .string(let text)):
            guard !text.isEmpty, text.count <= 128,
                text.unicodeScalars.allSatisfy({ $0.isASCIIAlphanumeric || "-_:".unicodeScalars.contains($0) })
            else {
                throw ValidationError(
                    field: name,
                    "\(name) must be an ID of letters, digits, '-', '_' or ':' (at most 128 characters)"
                )
            }
            return value
        case (.uuid, .string(let text)):
            guard isUUID(text) else {
                throw ValidationError(
                    field: name,
                    "\(name) must be a UUID (8-4-4-4-12 hex digits), not \(text.debugDescription)"
                )
            }
            return value
        case (.email, .string(let text)):
            try checkText(text, maxLength: 254, name: name)
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !text.contains(" ") else {
                throw ValidationError(field: name, "\(name) must be an e-mail address")
            }
            return value
        case (.oneOf(let allowed), .string(let text)):
            guard allowed.contains(text) else {
                throw ValidationError(field: name, "\(name) must be one of \(allowed.joined(separator: ", "))")
            }
            return value
        case (.list(let element, let wrap), .array(let items)):
            guard !items.isEmpty, items.count <= 1000 else {
                throw ValidationError(field: name, "\(name) must hold between 1 and 1000 items")
            }
            var out: [JSONValue] = []
            for item in items {
                var item = item
                // `{"value": "1.1.1.1"}` as Kinsta spells it, or the bare value.
                if let wrap, case .object(let object) = item, object.count == 1, let inner = object[wrap] {
                    item = inner
                }
                out.append(try validate(item, as: element, name: name))
            }
            return .array(out)
        case (.list(let element, _), .string):
            // One item given as such (`--domain-ids X` once).
            return try validate(.array([value]), as: .list(element, wrap: nil), name: name)
        case (.subfolder, .string(let text)):
            let segments = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard text.hasPrefix("/"), text.count <= 255,
                segments.dropLast().allSatisfy({ !$0.isEmpty }),
                segments.allSatisfy({
                    $0.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || $0 == "-" || $0 == "_" }
                })
            else {
                throw ValidationError(
                    field: name,
                    "\(name) must be a path like /app: a / and folder names of letters, digits, - and _"
                )
            }
            return value
        case (.wpCommand, .string(let text)):
            guard text.count <= 5000, text.hasPrefix("wp"), text.dropFirst(2).first?.isWhitespace == true,
                text.dropFirst(2).contains(where: { !$0.isWhitespace }),
                text.unicodeScalars.allSatisfy({
                    $0.isASCIIAlphanumeric || " \t_-./:=@'".unicodeScalars.contains($0)
                })
            else {
                throw ValidationError(
                    field: name,
                    "\(name) must be a WP-CLI command: wp and arguments of letters, digits, spaces and _-./:=@' "
                        + "(at most 5000 characters)"
                )
            }
            return value
        default:
            throw ValidationError(field: name, "\(name) must be \(describe(type)), not \(value.typeName)")
        }
    }

    /// `8-4-4-4-12` hexadecimal digits.
    public static func isUUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    private static func checkText(
        _ text: String,
        maxLength: Int,
        name: String,
        lineBreaks: Bool = false
    )
        throws(ValidationError)
    {
        guard !text.trimmingWhitespace().isEmpty else {
            throw ValidationError(field: name, "\(name) must not be empty")
        }
        // Code points, as JSON Schema's maxLength (GET /v1/openapi.json) counts them: not grapheme clusters, which
        // would let 255 letters with combining marks through as 255.
        guard text.unicodeScalars.count <= maxLength else {
            throw ValidationError(field: name, "\(name) is longer than \(maxLength) characters")
        }
        let allowed: Set<Unicode.Scalar> = lineBreaks ? ["\n", "\r", "\t"] : []
        guard
            !text.unicodeScalars.contains(where: {
                $0.properties.generalCategory == .control && !allowed.contains($0)
            })
        else {
            throw ValidationError(field: name, "\(name) must not contain control characters")
        }
    }

    /// How the expected type reads in an error message.
    var expectedDescription: String { Self.describe(type) }

    static func describe(_ type: ValueType) -> String {
        switch type {
        case .text, .longText, .identifier, .email, .oneOf: "a string"
        case .uuid: "a UUID string"
        case .wpCommand: "a WP-CLI command string"
        case .subfolder: "a path string"
        case .boolean: "true or false"
        case .integer(let minimum): "a whole number of at least \(minimum)"
        case .list(let element, _): "a list of \(describe(element))s"
        }
    }

    /// The JSON Schema of the values it accepts (`GET /v1/kinds`, `GET /v1/openapi.json`).
    public var typeName: String {
        switch type {
        case .text, .longText: "string"
        case .identifier: "id"
        case .uuid: "uuid"
        case .email: "email"
        case .boolean: "boolean"
        case .integer: "integer"
        case .oneOf(let allowed): allowed.joined(separator: "|")
        case .list(let element, _): "[" + ParamSpec("", element, help: "").typeName + "]"
        case .wpCommand: "wp-command"
        case .subfolder: "path"
        }
    }
}

extension Unicode.Scalar {
    var isASCIIAlphanumeric: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}

extension String {
    func trimmingWhitespace() -> Substring {
        let trimmed = drop(while: { $0.isWhitespace })
        return trimmed.dropLast(trimmed.reversed().prefix(while: { $0.isWhitespace }).count)
    }
}
