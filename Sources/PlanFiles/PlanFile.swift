public import Foundation
public import OpsCore
public import TOMLKit

/// Reads a plan file, for `kinsta-ops plan run` and for the daemon's `[[schedules]] plan_file`: JSON as it is, TOML
/// turned into the same JSON (tables are objects, arrays arrays).
public enum PlanFile {
    /// A file that cannot be read as a plan's JSON, with where.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The plan's JSON body; `-` reads standard input.
    public static func data(of path: String) throws(Failure) -> Data {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let read = FileManager.default.contents(atPath: path) else {
                throw Failure(description: "cannot read the plan file \(path)")
            }
            data = read
        }
        return Data(CanonicalJSON.text(try json(of: data, path: path)).utf8)
    }

    /// The plan in `data` (read from `path`: a `.json` name, or text starting with `{`, is JSON; anything else TOML).
    public static func json(of data: Data, path: String) throws(Failure) -> JSONValue {
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "\(path) is not UTF-8 text")
        }
        if path.hasSuffix(".json") || text.drop(while: \.isWhitespace).first == "{" {
            do {
                return try StrictJSON.parse(data)
            } catch {
                throw Failure(description: "\(path) is not JSON: \(error)")
            }
        }
        do {
            return value(of: try TOMLTable(string: text))
        } catch let error as TOMLParseError {
            throw Failure(description: "\(path):\(error.source.begin.line): \(error.description)")
        } catch {
            throw Failure(description: "\(path) is not TOML: \(error)")
        }
    }

    /// A TOML table as a JSON object (for a configuration's inline tables).
    public static func json(of table: TOMLTable) -> JSONValue { value(of: table) }

    /// A TOML value as JSON; a date or time becomes its text.
    static func value(of value: any TOMLValueConvertible) -> JSONValue {
        if let table = value.table {
            var object: [String: JSONValue] = [:]
            for key in table.keys { if let item = table[key] { object[key] = Self.value(of: item) } }
            return .object(object)
        }
        if let array = value.array { return .array(array.map { Self.value(of: $0) }) }
        if let text = value.string { return .string(text) }
        if let flag = value.bool { return .bool(flag) }
        if let number = value.int { return .integer(Int64(number)) }
        if let number = value.double { return .number(number) }
        return .string(value.debugDescription)
    }
}
