/// `{"from": {"job": 41, "output": "env_id"}}`: a parameter value taken from an earlier job's outputs (workflows).
public struct OutputReference: Sendable, Hashable {
    public var job: Int64
    public var output: String

    public init(job: Int64, output: String) {
        self.job = job
        self.output = output
    }

    /// The reference `value` spells: exactly `{"from": {"job": positive integer, "output": name}}`, nothing else.
    public init?(_ value: JSONValue) {
        guard case .object(let outer) = value, outer.count == 1, case .object(let inner)? = outer["from"],
            inner.count == 2, case .integer(let job)? = inner["job"], job >= 1,
            case .string(let output)? = inner["output"], !output.isEmpty
        else { return nil }
        self.init(job: job, output: output)
    }

    public var json: JSONValue { ["from": ["job": .integer(job), "output": .string(output)]] }
}

/// A job's parameters after validation: every value checked, defaults filled in, nothing unknown.
public struct ValidatedParams: Sendable, Hashable {
    public let kind: JobKind
    public let values: [String: JSONValue]
    /// The parameters still to be taken from earlier jobs' outputs (their values hold the reference itself until
    /// ``resolving(_:defaults:)`` replaces them): a `waiting` job's.
    public var references: [String: OutputReference] {
        values.compactMapValues(OutputReference.init)
    }

    /// Validates raw parameters for `kind`.
    ///
    /// - Parameters:
    ///   - kind: the job kind.
    ///   - raw: parameters as the caller sent them.
    ///   - defaults: what the configuration fills in (the company, the user a restore notifies) and decides.
    /// - Throws: ``ValidationError`` naming the field at fault (unknown, with the name likely meant; every missing
    /// one in one message, `field` the first; or a wrong type or form).
    /// - Parameter allowingReferences: a value `{"from": {"job": N, "output": "name"}}` is kept as it is, to be
    ///   resolved when job N has succeeded (``resolving(_:defaults:)``): its check, and the kind's cross-checks, wait
    ///   until then. A secret cannot be taken from outputs.
    public init(
        kind: JobKind,
        raw: [String: JSONValue],
        defaults: ParamDefaults,
        allowingReferences: Bool = false
    ) throws(ValidationError) {
        let spec = kind.spec
        let known = Set(spec.parameters.map(\.name))
        if let unknown = raw.keys.sorted().first(where: { !known.contains($0) }) {
            let names = spec.parameters.map(\.name)
            let guess = Suggestion.closest(to: unknown, among: names)
            throw ValidationError(
                field: unknown,
                "\(kind.rawValue) has no parameter \(unknown)"
                    + (guess.map { " (did you mean \($0)?)" } ?? "; it takes \(names.joined(separator: ", "))")
            )
        }
        var resolved: [(ParamSpec, JSONValue)] = []
        var missing: [ParamSpec] = []
        for param in spec.parameters {
            var value = raw[param.name]
            if value == nil || value == .null {
                value = param.defaultValue
                if let configured = param.configured?.value(in: defaults), !configured.isEmpty {
                    value = .string(configured)
                }
            }
            if let value, value != .null {
                resolved.append((param, value))
            } else if param.required {
                missing.append(param)
            }
        }
        // Every missing parameter at once: an admin should not find them one try at a time.
        if let first = missing.first {
            let names = missing.map { $0.name + ($0.defaultsToCompany ? " (no company is configured either)" : "") }
            throw ValidationError(field: first.name, "\(kind.rawValue) needs \(Self.list(names))")
        }
        var values: [String: JSONValue] = [:]
        var referenced = false
        for (param, value) in resolved {
            if allowingReferences, OutputReference(value) != nil {
                guard !param.secret else {
                    throw ValidationError(
                        field: param.name,
                        "\(param.name) is a secret: it cannot come from a job's outputs"
                    )
                }
                values[param.name] = value
                referenced = true
                continue
            }
            values[param.name] = try param.validate(value)
        }
        if !referenced { try spec.check(values, defaults) }
        self.kind = kind
        self.values = values
    }

    /// These parameters with every reference replaced by the output it names, each checked as a submitted value
    /// would be, and the kind's cross-checks run.
    ///
    /// - Parameter outputs: the outputs of the jobs referred to, by job ID.
    /// - Throws: ``ValidationError`` naming the parameter whose output is missing or does not fit it.
    public func resolving(
        _ outputs: [Int64: [String: JSONValue]],
        defaults: ParamDefaults
    ) throws(ValidationError) -> ValidatedParams {
        let spec = kind.spec
        var values = self.values
        for (name, reference) in references.sorted(by: { $0.key < $1.key }) {
            guard let param = spec.parameters.first(where: { $0.name == name }) else { continue }
            guard let output = outputs[reference.job]?[reference.output], output != .null else {
                throw ValidationError(
                    field: name,
                    "\(name): job \(reference.job) succeeded without the output \(reference.output)"
                )
            }
            do {
                values[name] = try param.validate(output)
            } catch {
                throw ValidationError(
                    field: name,
                    "\(name) from job \(reference.job)'s \(reference.output): \(error.message)"
                )
            }
        }
        try spec.check(values, defaults)
        return ValidatedParams(trusted: values, kind: kind)
    }

    /// `a`, `a and b`, `a, b and c`.
    static func list(_ names: [String]) -> String {
        names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    /// Validates raw parameters with only the company configured.
    public init(kind: JobKind, raw: [String: JSONValue], defaultCompany: String?) throws(ValidationError) {
        try self.init(kind: kind, raw: raw, defaults: ParamDefaults(company: defaultCompany))
    }

    /// Rebuilds validated parameters from storage without checking them again.
    public init(trusted values: [String: JSONValue], kind: JobKind) {
        self.kind = kind
        self.values = values
    }

    /// The parameters with every secret replaced by `"[redacted]"`: safe for answers, events, logs and webhooks.
    public var redacted: [String: JSONValue] {
        var copy = values
        for param in kind.spec.parameters where param.secret && copy[param.name] != nil {
            copy[param.name] = .string("[redacted]")
        }
        return copy
    }

    /// The values of the secret parameters the job still holds (none once Kinsta accepted it): what a ``SecretMask``
    /// looks for in Kinsta's answers to this job.
    public var secretValues: [String] {
        kind.spec.parameters.filter(\.secret).compactMap { values[$0.name]?.stringValue }.filter { !$0.isEmpty }
    }

    /// The parameters with every secret removed: what stays in the database once Kinsta accepted the job.
    public var withoutSecrets: [String: JSONValue] {
        values.filter { name, _ in !(kind.spec.parameters.first { $0.name == name }?.secret ?? false) }
    }

    /// The keys of what the job occupies (``JobKindSpec/targets``), e.g. `site:…`, `env:…`.
    public var targets: [String] {
        var keys: [String] = []
        for target in kind.spec.targets {
            let key = target.key(values)
            if !keys.contains(key) { keys.append(key) }
        }
        return keys
    }

    /// ``targets`` as the store keeps them: one key a line.
    public var target: String { targets.joined(separator: "\n") }

    /// The Kinsta call that submits attempt `attempt` of job `job`.
    public func submitCall(job: Int64, attempt: Int) -> KinstaCall {
        let spec = kind.spec
        let path = KinstaCall.fill(spec.pathTemplate) { name in
            KinstaCall.percentEncodePathSegment(values[name].map(JSONValue.plainText) ?? "")
        }
        var body: [String: JSONValue] = [:]
        for param in spec.parameters where !spec.pathParameters.contains(param.name) {
            guard let value = values[param.name] else { continue }
            if case .list(_, let wrap?) = param.type, case .array(let items) = value {
                body[param.name] = .array(items.map { .object([wrap: $0]) })
            } else {
                body[param.name] = value
            }
        }
        if case .backupTagged(_, let tag) = spec.settle {
            body[tag] = .string(JobKindSpec.backupTag(values[tag]?.stringValue, job: job, attempt: attempt))
        }
        // A DELETE without body parameters sends no body; the others send their object, if empty.
        let sendsBody = spec.method != "DELETE" || !body.isEmpty
        return KinstaCall(method: spec.method, path: path, body: sendsBody ? body : nil)
    }
}

/// One request to Kinsta, described without doing any IO: the client turns it into HTTP.
public struct KinstaCall: Sendable, Hashable {
    public var method: String
    /// Path relative to the API base, segments already percent-encoded.
    public var path: String
    /// JSON object body, or `nil` for none.
    public var body: [String: JSONValue]?

    public init(method: String, path: String, body: [String: JSONValue]? = nil) {
        self.method = method
        self.path = path
        self.body = body
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters, so `:` and `/` in an ID stay inside one segment.
    public static func percentEncodePathSegment(_ segment: String) -> String {
        var out = ""
        for byte in segment.utf8 {
            let scalar = Unicode.Scalar(byte)
            if scalar.isASCIIAlphanumeric || "-._~".unicodeScalars.contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension KinstaCall {
    /// Replaces each `{name}` in `template` with `value(name)`.
    static func fill(_ template: String, _ value: (String) -> String) -> String {
        var out = ""
        var name: String?
        for character in template {
            switch (character, name) {
            case ("{", nil): name = ""
            case ("}", let current?):
                out += value(current)
                name = nil
            case (_, let current?): name = current + String(character)
            case (_, nil): out.append(character)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
