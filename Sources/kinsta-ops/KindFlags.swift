import Foundation
import OpsCore

/// A kind's own flags, made from its declaration: `--display-name X` (or `--display-name=X`), `--woocommerce` /
/// `--no-woocommerce` for booleans, a repeated flag for a list, `--NAME-file PATH` for a secret. Values take the
/// parameter's JSON type (a number for an integer, a list for a list); whether they are valid is the daemon's to say.
struct KindFlags {
    let kind: JobKind

    /// Kebab case of a parameter name: `display_name` → `display-name`.
    static func kebab(_ name: String) -> String { name.replacingOccurrences(of: "_", with: "-") }

    /// The flag as help shows it.
    static func flag(_ param: ParamSpec) -> String {
        let name = "--" + kebab(param.name)
        switch param.type {
        case .boolean: return "\(name) / --no-\(kebab(param.name))"
        case .integer: return "\(name) <n>"
        case .list: return "\(name) <value> (repeat for more)"
        case .oneOf(let allowed): return "\(name) <\(allowed.joined(separator: "|"))>"
        default: return "\(name) <\(param.typeName == "string" ? kebab(param.name) : param.typeName)>"
        }
    }

    /// Reads the kind's flags into parameters.
    ///
    /// - Throws: ``CLIError`` (usage) for a flag the kind does not have, a missing or malformed value, or a value
    ///   given twice.
    func parse(_ arguments: [String]) throws(CLIError) -> [String: JSONValue] {
        let spec = kind.spec
        var byFlag: [String: ParamSpec] = [:]
        for param in spec.parameters { byFlag[Self.kebab(param.name)] = param }
        var params: [String: JSONValue] = [:]
        var index = 0
        func set(_ param: ParamSpec, _ value: JSONValue, flag: String) throws(CLIError) {
            if case .list = param.type {
                var items: [JSONValue] = []
                if case .array(let existing)? = params[param.name] { items = existing }
                params[param.name] = .array(items + [value])
                return
            }
            if let existing = params[param.name], existing != value {
                throw CLIError.usage("\(flag) is given twice with different values")
            }
            params[param.name] = value
        }
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw CLIError.usage("unexpected argument '\(argument)'; \(usageHint)")
            }
            var name = String(argument.dropFirst(2))
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if let param = byFlag[name], case .boolean = param.type {
                switch inline {
                case nil, "true": try set(param, .bool(true), flag: argument)
                case "false": try set(param, .bool(false), flag: argument)
                default: throw CLIError.usage("--\(name) takes no value, or =true / =false")
                }
                continue
            }
            if name.hasPrefix("no-"), let param = byFlag[String(name.dropFirst(3))], case .boolean = param.type,
                inline == nil
            {
                try set(param, .bool(false), flag: argument)
                continue
            }
            var fromFile = false
            var param = byFlag[name]
            if param == nil, name.hasSuffix("-file"), let secret = byFlag[String(name.dropLast(5))], secret.secret {
                param = secret
                fromFile = true
            }
            guard let param else {
                throw CLIError.usage("\(kind.rawValue) has no flag --\(name); \(usageHint)")
            }
            let text: String
            if let inline {
                text = inline
            } else {
                guard index < arguments.count else { throw CLIError.usage("--\(name) needs a value") }
                text = arguments[index]
                index += 1
            }
            if fromFile {
                let whole = param.type == .longText
                let value = try SubmitCommand.readSecretFile(text, flag: "--\(name)", wholeFile: whole)
                try set(param, .string(value), flag: "--\(name)")
                continue
            }
            try set(param, try Self.value(text, for: param, flag: "--\(name)"), flag: "--\(name)")
        }
        return params
    }

    private var usageHint: String { "`kinsta-ops submit \(kind.rawValue) --help` lists its flags" }

    /// The JSON value of a flag's text for the parameter's type.
    static func value(_ text: String, for param: ParamSpec, flag: String) throws(CLIError) -> JSONValue {
        var type = param.type
        if case .list(let element, _) = type { type = element }
        if case .integer = type {
            guard let number = Int64(text) else { throw CLIError.usage("\(flag) needs a whole number, not '\(text)'") }
            return .integer(number)
        }
        if case .boolean = type {
            switch text {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: throw CLIError.usage("\(flag) needs true or false, not '\(text)'")
            }
        }
        return .string(text)
    }
}
