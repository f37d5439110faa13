/// The declared shape of one job parameter. Kinds are tables of these, so adding a kind is a declarative change.
public struct ParamSpec: Sendable, Hashable {
    /// What values a parameter accepts.
    public enum ValueType: Sendable, Hashable {
        /// Free text: non-empty, at most 255 characters, no control characters.
        case text
        /// An identifier that goes into a URL path: letters, digits, `-`, `_` and `:` only, at most 128 characters.
        case identifier
        /// An e-mail address (one `@`, something on both sides).
        case email
        /// `true` or `false`.
        case boolean
        /// A whole number ≥ 0 (Kinsta's backup IDs are numbers).
        case integer
        /// One of a fixed set of strings.
        case oneOf([String])
    }

    /// Kinsta's own name of the parameter (`display_name`, `source_env_id`, …).
    public var name: String
    public var type: ValueType
    public var required: Bool
    /// Secret values are erased from the database once Kinsta accepted the job and never appear in any answer.
    public var secret: Bool
    /// A value used when the caller gives none.
    public var defaultValue: JSONValue?
    /// Filled from the configured company ID when absent (`company`).
    public var defaultsToCompany: Bool
    /// One line for `kinsta-ops submit --help` and error messages.
    public var help: String

    public init(
        _ name: String,
        _ type: ValueType,
        required: Bool = false,
        secret: Bool = false,
        default defaultValue: JSONValue? = nil,
        defaultsToCompany: Bool = false,
        help: String
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.secret = secret
        self.defaultValue = defaultValue
        self.defaultsToCompany = defaultsToCompany
        self.help = help
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
        switch (type, value) {
        case (.boolean, .bool):
            return value
        // Kinsta's numeric IDs (backups) start at 1.
        case (.integer, .integer(let number)) where number >= 1:
            return value
        case (.integer, .number(let number)) where number >= 1 && number == number.rounded() && number < 9e15:
            return .integer(Int64(number))
        case (.text, .string(let text)):
            try checkText(text, maxLength: 255)
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
        case (.email, .string(let text)):
            try checkText(text, maxLength: 254)
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
        default:
            throw ValidationError(field: name, "\(name) must be \(expectedDescription), not \(value.typeName)")
        }
    }

    private func checkText(_ text: String, maxLength: Int) throws(ValidationError) {
        guard !text.trimmingWhitespace().isEmpty else {
            throw ValidationError(field: name, "\(name) must not be empty")
        }
        guard text.count <= maxLength else {
            throw ValidationError(field: name, "\(name) is longer than \(maxLength) characters")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ValidationError(field: name, "\(name) must not contain control characters")
        }
    }

    /// How the expected type reads in an error message.
    var expectedDescription: String {
        switch type {
        case .text, .identifier, .email, .oneOf: "a string"
        case .boolean: "true or false"
        case .integer: "a positive whole number"
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
