import CurlHTTP
import Foundation
import KinstaClient
import Logging
import OpsCore
import OpsDaemon
import OpsProtocol
import OpsServer
import OpsStore
import OpsTestSupport
import Synchronization
import Testing

/// `GET /v1/openapi.json`: every route the router registers is documented (and nothing else), each documented answer
/// is what the real socket sends, and each kind's request schema agrees with the catalog's validation.
@Suite struct OpenAPIDocumentTests {
    static let defaults = ParamDefaults(company: "company-1")

    /// Built once per configuration: the parameterized tests ask for it 150 times.
    static let documents = Mutex<[String: JSONValue]>([:])

    static func document(_ defaults: ParamDefaults = Self.defaults, metrics: Bool = true) -> JSONValue {
        let key = "\(defaults) \(metrics)"
        return documents.withLock { cache in
            if let document = cache[key] { return document }
            let document = OpenAPIDocument.document(version: "test", defaults: defaults, metrics: metrics)
            cache[key] = document
            return document
        }
    }

    /// The router's own list of routes (method and path template), with or without `/metrics`.
    static func registeredRoutes(metrics: Bool) throws -> Set<String> {
        let api = SocketAPI(
            database: try TemporaryDatabase.make(),
            machine: JobMachine(policy: PollPolicy()),
            defaultCompany: "company-1",
            version: "test",
            startedAt: Date(),
            now: { Date() },
            metricsText: metrics ? { @Sendable in "" } : nil,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        return Set(api.registeredRoutes)
    }

    @Test(arguments: [true, false]) func everyRegisteredRouteIsDocumentedAndNothingElse(metrics: Bool) throws {
        let documented = Set(OpenAPIDocument.routes(metrics: metrics).map { "\($0.method) \($0.path)" })
        let registered = try Self.registeredRoutes(metrics: metrics)
        #expect(registered.subtracting(documented).sorted() == [], "routes without documentation")
        #expect(documented.subtracting(registered).sorted() == [], "documented routes the router lacks")
        guard case .object(let paths)? = Self.document(metrics: metrics)["paths"] else {
            Issue.record("no paths")
            return
        }
        let inDocument = Set(
            paths.flatMap { path, item in (item.objectValue ?? [:]).keys.map { "\($0.uppercased()) \(path)" } }
        )
        #expect(inDocument == registered)
    }

    @Test func theDocumentIsOpenAPI31AndDeterministic() throws {
        let first = OpenAPIDocument.data(version: "1", defaults: Self.defaults, metrics: true)
        let second = OpenAPIDocument.data(version: "1", defaults: Self.defaults, metrics: true)
        #expect(first == second)
        let document = try StrictJSON.parse(first)
        #expect(document["openapi"] == "3.1.0")
        let kinds = document["components"]?["schemas"]?["SubmitJob"]?["oneOf"]
        guard case .array(let refs)? = kinds else {
            Issue.record("SubmitJob has no oneOf")
            return
        }
        #expect(refs.count == JobCatalog.specs.count)
        #expect(document["components"]?["schemas"]?["SubmitJob"]?["discriminator"]?["propertyName"] == "kind")
        // Every error code is in the error schema.
        let codes = document["components"]?["schemas"]?["Error"]?["properties"]?["error"]?["properties"]?["code"]?[
            "enum"
        ]
        #expect(codes == .array(ErrorCode.allCases.map { .string($0.rawValue) }))
    }

    // MARK: - Kinds

    static let kinds = JobCatalog.kinds

    @Test(arguments: kinds) func eachKindsSchemaTakesItsExampleAndRequiresWhatTheCatalogDoes(kind: JobKind) throws {
        for defaults in [Self.defaults, ParamDefaults(), ParamDefaults(company: "c", notifiedUserID: Self.uuid)] {
            let document = Self.document(defaults)
            let validator = SchemaValidator(document: document)
            let schema = try #require(document["components"]?["schemas"]?["Submit." + kind.rawValue])
            let example = OpenAPIDocument.example(kind.spec, defaults: defaults)
            let body: JSONValue = ["kind": .string(kind.rawValue), "params": .object(example)]
            #expect(validator.errors(body, schema) == [], "\(kind) example against its schema")
            #expect(
                validator.errors(body, try #require(validator.resolve(["$ref": "#/components/schemas/SubmitJob"])))
                    == []
            )
            #expect(throws: Never.self) { _ = try ValidatedParams(kind: kind, raw: example, defaults: defaults) }
            let required = Set((schema["properties"]?["params"]?["required"]?.arrayStrings) ?? [])
            let expected = Set(
                kind.spec.parameters.filter { param in
                    guard param.required, param.defaultValue == nil else { return false }
                    switch param.configured {
                    case .company?: return defaults.company == nil
                    case .notifiedUser?: return defaults.notifiedUserID == nil
                    case nil: return true
                    }
                }.map(\.name)
            )
            #expect(required == expected, "\(kind) required")
            let properties = schema["properties"]?["params"]?["properties"]?.objectValue ?? [:]
            #expect(Set(properties.keys) == Set(kind.spec.parameters.map(\.name)))
            for param in kind.spec.parameters where param.secret {
                #expect(schema["properties"]?["params"]?["properties"]?[param.name]?["writeOnly"] == true)
            }
        }
    }

    static let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"

    /// Values of every shape, each put in turn into every parameter of a kind's example.
    static let probes: [JSONValue] = [
        "", " ", "a", "example", .string(String(repeating: "x", count: 255)),
        .string(String(repeating: "x", count: 256)),
        .string(String(repeating: "e\u{301}", count: 200)), "a\u{7}b", "two\nlines", "wp core version", "wp", "/",
        "/app", "/app/", "//", "/a b", "app",
        "wp  plugin list --status=active", "rm -rf /",
        .string(uuid), .string(uuid.uppercased()), "0f8fad5b-d9cb-469f-a165-70867728950",
        "0f8fad5b-d9cb-469f-a165-70867728950g",
        "admin@example.com", "a@b", "a b@c.d", "id_1:x-2", "id/1", "read", "write", "SPECIFIC_FILES",
        true, false, .null, 0, 1, 2, -1, 1.5, 1.0, 9_007_199_254_740_993,
        [], ["a"], ["a", "b"], [["value": "1.1.1.1"]], [["name": "akismet"]], [["other": "x"]], [1], ["a": "b"],
    ]

    /// A rule of a kind's cross-parameter check that falls on one parameter's value alone (the schema types the
    /// parameter; the daemon refuses more).
    static let checkedBeyondTheSchema: Set<String> = [
        "sftp_account.add password", "site.create is_subdomain_multisite", "environment.create is_subdomain_multisite",
        "environment.push file_list", "backup.restore env_display_name_of_backup", "backup.restore notified_user_id",
        "domain.add custom_ssl_key", "domain.add custom_ssl_cert",
    ]

    @Test(arguments: kinds) func theSchemaAndTheDaemonAgreeOnEveryProbe(kind: JobKind) throws {
        let document = Self.document()
        let validator = SchemaValidator(document: document)
        let schema = try #require(document["components"]?["schemas"]?["Submit." + kind.rawValue])
        let example = OpenAPIDocument.example(kind.spec, defaults: Self.defaults)
        for param in kind.spec.parameters {
            for probe in Self.probes {
                var params = example
                params[param.name] = probe
                let schemaTakes = validator.errors(["kind": .string(kind.rawValue), "params": .object(params)], schema)
                    .isEmpty
                var daemonTakes = true
                var field: String?
                do {
                    _ = try ValidatedParams(kind: kind, raw: params, defaults: Self.defaults)
                } catch {
                    daemonTakes = false
                    field = error.field
                }
                if schemaTakes, !daemonTakes,
                    field != param.name || Self.checkedBeyondTheSchema.contains("\(kind) \(param.name)")
                {
                    continue  // a rule between parameters, which the schema does not say
                }
                #expect(
                    schemaTakes == daemonTakes,
                    "\(kind) \(param.name) = \(probe): schema \(schemaTakes), daemon \(daemonTakes)"
                )
            }
        }
        var unknown = example
        unknown["no_such_param"] = "x"
        #expect(!validator.errors(["kind": .string(kind.rawValue), "params": .object(unknown)], schema).isEmpty)
    }

    // MARK: - Against the real socket

    /// Each documented operation, asked over the real socket: the status is one it documents, and a JSON answer fits
    /// the documented schema.
    @Test func everyDocumentedOperationAnswersAsDocumented() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        // Kinsta answers every read 404. The request budget's burst covers every read here: under a manual clock
        // no token comes back.
        var script = ScriptedKinstaAPI.Script()
        script.read = { _ in .notFound(message: "no such thing") }
        try await InProcessDaemon.with(
            clock: ManualClock(),
            api: ScriptedKinstaAPI(script),
            configure: {
                $0.maxInFlight = 0
                $0.requestBurst = 100
            },
            { daemon in
                let served = try await http.execute(
                    HTTPRequest(
                        method: "GET",
                        url: "http://localhost/v1/openapi.json",
                        timeout: .seconds(10),
                        unixSocketPath: daemon.socketPath
                    )
                )
                #expect(served.status == 200)
                let document = try StrictJSON.parse(served.body)
                let validator = SchemaValidator(document: document)
                let body = #"{"kind":"site.create_plain","params":{"display_name":"A","region":"us-central1"}}"#
                guard case .object(let paths)? = document["paths"] else {
                    Issue.record("no paths")
                    return
                }
                for (path, item) in paths.sorted(by: { $0.key < $1.key }) {
                    for (method, operation) in (item.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                        let target = path.replacingOccurrences(of: "{id}", with: "1").replacingOccurrences(
                            of: "{name}",
                            with: "hook"
                        )
                        let post = method == "post" && path.hasSuffix("/jobs")
                        let response: HTTPResponse
                        do {
                            response = try await http.execute(
                                HTTPRequest(
                                    method: method.uppercased(),
                                    url: "http://localhost" + target,
                                    headers: post ? [HTTPHeader("Content-Type", "application/json")] : [],
                                    body: post ? Data(body.utf8) : nil,
                                    timeout: .seconds(10),
                                    unixSocketPath: daemon.socketPath
                                )
                            )
                        } catch {
                            Issue.record("\(method) \(target): \(error)")
                            continue
                        }
                        let answer = operation["responses"]?[String(response.status)]
                        #expect(answer != nil, "\(method) \(path) answered \(response.status), not documented")
                        guard let schema = answer?["content"]?["application/json"]?["schema"] else { continue }
                        #expect(response.header("Content-Type") == "application/json", "\(method) \(path)")
                        let json = try StrictJSON.parse(response.body)
                        #expect(validator.errors(json, schema) == [], "\(method) \(path) \(response.status)")
                    }
                }
                // A method a path does not serve: 405 with Allow.
                let refused = try await http.execute(
                    HTTPRequest(
                        method: "DELETE",
                        url: "http://localhost/v1/jobs/1",
                        timeout: .seconds(10),
                        unixSocketPath: daemon.socketPath
                    )
                )
                #expect(refused.status == 405)
                #expect(refused.header("Allow") == "GET")
                let unknown = try await http.execute(
                    HTTPRequest(
                        method: "GET",
                        url: "http://localhost/v1/nothing",
                        timeout: .seconds(10),
                        unixSocketPath: daemon.socketPath
                    )
                )
                #expect(unknown.status == 404)
            }
        )
    }
}

/// What the API fuzz run (scripts/api-fuzz.sh) found, each fixed.
@Suite struct APIFuzzFindingsTests {
    @Test func findingsStayFixed() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        var script = ScriptedKinstaAPI.Script()
        script.read = { _ in .notFound(message: "no such thing") }
        let kinsta = ScriptedKinstaAPI(script)
        try await InProcessDaemon.with(
            clock: ManualClock(),
            api: kinsta,
            configure: { $0.maxInFlight = 0 },
            { daemon in
                func send(
                    _ method: String,
                    _ path: String,
                    headers: [HTTPHeader] = [],
                    body: String? = nil
                )
                    async throws -> HTTPResponse
                {
                    try await http.execute(
                        HTTPRequest(
                            method: method,
                            url: "http://localhost" + path,
                            headers: headers,
                            body: body.map { Data($0.utf8) },
                            timeout: .seconds(10),
                            unixSocketPath: daemon.socketPath
                        )
                    )
                }
                // A path ID the client percent-encoded is the ID it means.
                let site = try await send("GET", "/v1/kinsta/sites/abc%3Adef")
                #expect(site.status == 404)
                #expect(kinsta.calls.contains(.read("/sites/abc%3Adef")))
                // follow takes 1, true, yes, 0, false, no, and nothing else.
                #expect(try await send("GET", "/v1/events?follow=ture").status == 400)
                #expect(try await send("GET", "/v1/events?follow=0").status == 200)
                // An Idempotency-Key beyond visible ASCII is refused, not stored as replacement characters.
                let json = HTTPHeader("Content-Type", "application/json")
                let body = #"{"kind":"site.create_plain","params":{"display_name":"A","region":"us-central1"}}"#
                let key = try await send(
                    "POST",
                    "/v1/jobs",
                    headers: [json, HTTPHeader("Idempotency-Key", "k\u{e9}y")],
                    body: body
                )
                #expect(key.status == 400)
                // 200 letters with a combining mark each are 400 code points: over display_name's 255.
                let long = String(repeating: "e\u{301}", count: 200)
                let marks = try await send(
                    "POST",
                    "/v1/jobs",
                    headers: [json],
                    body: #"{"kind":"site.create_plain","params":{"display_name":""# + long
                        + #"","region":"us-central1"}}"#
                )
                #expect(marks.status == 422)
                // A method the path does not serve: 405 with Allow, not 404.
                let refused = try await send("PUT", "/v1/jobs")
                #expect(refused.status == 405)
                #expect(refused.header("Allow") == "GET, POST")
                let list = try WireJSON.decoder().decode(JobListView.self, from: try await send("GET", "/v1/jobs").body)
                #expect(list.jobs.isEmpty)
            }
        )
    }
}

extension JSONValue {
    var arrayStrings: [String]? {
        guard case .array(let items) = self else { return nil }
        return items.compactMap(\.stringValue)
    }
}

/// The part of JSON Schema (2020-12) the document uses, enough to check values against it in tests.
struct SchemaValidator {
    let document: JSONValue

    func resolve(_ schema: JSONValue) -> JSONValue? {
        guard let ref = schema["$ref"]?.stringValue else { return schema }
        var node: JSONValue? = document
        for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        return node
    }

    func errors(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard let schema = resolve(schema), case .object(let keywords) = schema else { return ["\(path): bad schema"] }
        var errors: [String] = []
        if let type = keywords["type"] {
            let types = type.arrayStrings ?? [type.stringValue ?? ""]
            if !types.contains(where: { Self.has(value, type: $0) }) { return ["\(path): not \(types)"] }
        }
        if let allowed = keywords["enum"], case .array(let values) = allowed, !values.contains(value) {
            errors.append("\(path): not in enum")
        }
        if let constant = keywords["const"], constant != value { errors.append("\(path): not \(constant)") }
        if case .string(let text) = value {
            let length = text.unicodeScalars.count
            if case .integer(let minimum)? = keywords["minLength"], length < minimum { errors.append("\(path): short") }
            if case .integer(let maximum)? = keywords["maxLength"], length > maximum { errors.append("\(path): long") }
            if let pattern = keywords["pattern"]?.stringValue {
                let regex = Self.regex(pattern)
                let range = NSRange(text.startIndex..., in: text)
                if regex?.firstMatch(in: text, range: range) == nil { errors.append("\(path): pattern") }
            }
        }
        if let number = Self.number(value) {
            if let minimum = keywords["minimum"].flatMap(Self.number), number < minimum {
                errors.append("\(path): < min")
            }
            if let maximum = keywords["maximum"].flatMap(Self.number), number > maximum {
                errors.append("\(path): > max")
            }
        }
        if case .array(let items) = value {
            if case .integer(let minimum)? = keywords["minItems"], items.count < minimum {
                errors.append("\(path): few")
            }
            if case .integer(let maximum)? = keywords["maxItems"], items.count > maximum {
                errors.append("\(path): many")
            }
            if let itemSchema = keywords["items"] {
                for (index, item) in items.enumerated() {
                    errors += self.errors(item, itemSchema, at: "\(path)[\(index)]")
                }
            }
        }
        if case .object(let members) = value {
            let properties = keywords["properties"]?.objectValue ?? [:]
            for name in keywords["required"]?.arrayStrings ?? [] where members[name] == nil {
                errors.append("\(path): needs \(name)")
            }
            for (name, member) in members {
                if let property = properties[name] {
                    errors += self.errors(member, property, at: "\(path).\(name)")
                } else if keywords["additionalProperties"] == false {
                    errors.append("\(path): unknown \(name)")
                }
            }
        }
        if case .array(let options)? = keywords["anyOf"],
            !options.contains(where: { self.errors(value, $0, at: path).isEmpty })
        {
            errors.append("\(path): none of anyOf")
        }
        if case .array(let options)? = keywords["oneOf"],
            options.filter({ self.errors(value, $0, at: path).isEmpty }).count != 1
        {
            errors.append("\(path): not exactly one of oneOf")
        }
        return errors
    }

    /// The document has a handful of patterns: each is compiled once.
    static let patterns = Mutex<[String: NSRegularExpression]>([:])

    static func regex(_ pattern: String) -> NSRegularExpression? {
        patterns.withLock { cache in
            if let regex = cache[pattern] { return regex }
            let regex = try? NSRegularExpression(pattern: pattern)
            cache[pattern] = regex
            return regex
        }
    }

    static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .integer(let number): Double(number)
        case .number(let number): number
        default: nil
        }
    }

    static func has(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): true
        case ("integer", .integer), ("number", .integer), ("number", .number): true
        case ("integer", .number(let number)): number == number.rounded()
        default: false
        }
    }
}
