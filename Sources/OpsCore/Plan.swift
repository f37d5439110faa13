/// `{"from": {"step": "backup", "output": "backup_id"}}`: inside a plan, a parameter taken from an earlier step's
/// outputs.
public struct StepReference: Sendable, Hashable {
    public var step: String
    public var output: String

    public init(step: String, output: String) {
        self.step = step
        self.output = output
    }

    /// The reference `value` spells: exactly `{"from": {"step": id, "output": name}}`, nothing else.
    public init?(_ value: JSONValue) {
        guard case .object(let outer) = value, outer.count == 1, case .object(let inner)? = outer["from"],
            inner.count == 2, case .string(let step)? = inner["step"], !step.isEmpty,
            case .string(let output)? = inner["output"], !output.isEmpty
        else { return nil }
        self.init(step: step, output: output)
    }
}

/// What is wrong with a plan, naming the step (and its field) at fault.
public struct PlanError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The step's id, when one step is at fault.
    public var step: String?
    /// The field at fault (`steps`, `after`, a parameter's name, …).
    public var field: String?
    public var message: String

    public init(step: String?, field: String?, _ message: String) {
        self.step = step
        self.field = field
        self.message = message
    }

    public var description: String { message }
}

/// One step of a validated plan.
public struct PlanStep: Sendable, Hashable {
    public var id: String
    /// Its parameters. A value taken from an earlier step is held as a job reference whose `job` is that step's
    /// position in ``ValidatedPlan/steps`` plus one, until the store knows the step's job ID
    /// (``ValidatedParams/renumberingReferences(_:)``).
    public var params: ValidatedParams
    /// The positions in ``ValidatedPlan/steps`` of the steps this one comes after: all before it.
    public var after: [Int]
    public var note: String?
    public var hold: Bool
    public var priority: Int
}

/// A plan as `POST /v1/plans` takes it, checked whole: every step's kind and parameters, every `after` and every
/// reference to a step's output, and that the steps form no cycle. Its steps are in an order where each comes after
/// the steps it waits on, so the store can insert them one by one.
public struct ValidatedPlan: Sendable, Hashable {
    public static let maximumSteps = 1000
    static let fields: Set<String> = ["name", "steps", "priority", "note"]
    static let stepFields: Set<String> = ["id", "kind", "params", "after", "note", "hold", "priority"]

    public var name: String
    public var steps: [PlanStep]

    /// - Parameters:
    ///   - json: the plan's body: `{"name", "steps": [{"id", "kind", "params", "after", "note", "hold",
    ///     "priority"}], "priority", "note"}`. A plan's `priority` and `note` are its steps' defaults.
    ///   - defaults: what the configuration fills into parameters.
    ///   - heldKinds: kinds whose jobs are held for approval (`[approval] kinds`).
    /// - Throws: ``PlanError`` naming the step at fault.
    public init(json: JSONValue, defaults: ParamDefaults, heldKinds: Set<JobKind> = []) throws(PlanError) {
        guard case .object(let fields) = json else {
            throw PlanError(step: nil, field: nil, "a plan is an object: {\"name\": …, \"steps\": [...]}")
        }
        try Self.refuseUnknown(fields, known: Self.fields, step: nil, what: "a plan")
        guard case .string(let name)? = fields["name"], !name.allSatisfy(\.isWhitespace) else {
            throw PlanError(step: nil, field: "name", "a plan needs a name (a string)")
        }
        guard name.unicodeScalars.count <= 100, !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw PlanError(step: nil, field: "name", "a plan's name is at most 100 characters, on one line")
        }
        let defaultPriority = try Self.priority(fields["priority"], step: nil) ?? 0
        let defaultNote = try Self.string(fields["note"], field: "note", step: nil)
        guard case .array(let items)? = fields["steps"], !items.isEmpty else {
            throw PlanError(step: nil, field: "steps", "a plan needs steps: a list of at least one")
        }
        guard items.count <= Self.maximumSteps else {
            throw PlanError(step: nil, field: "steps", "a plan has at most \(Self.maximumSteps) steps")
        }

        // First pass: each step's own fields, and the ids.
        struct Raw {
            var id: String
            var kind: JobKind
            var params: [String: JSONValue]
            var after: [String]
            var note: String?
            var hold: Bool
            var priority: Int
        }
        var raws: [Raw] = []
        var positions: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            guard case .object(let step) = item else {
                throw PlanError(step: nil, field: "steps", "step #\(index + 1) is not an object")
            }
            guard case .string(let id)? = step["id"] else {
                throw PlanError(step: nil, field: "id", "step #\(index + 1) needs an id (a string)")
            }
            guard Self.isStepID(id) else {
                throw PlanError(step: id, field: "id", "step id \(id) must be 1–64 of a-z, 0-9, '-', '_'")
            }
            guard positions[id] == nil else {
                throw PlanError(step: id, field: "id", "two steps have the id \(id)")
            }
            positions[id] = index
            try Self.refuseUnknown(step, known: Self.stepFields, step: id, what: "a step")
            guard case .string(let kindName)? = step["kind"] else {
                throw PlanError(step: id, field: "kind", "step \(id) needs a kind")
            }
            guard let kind = JobKind(rawValue: kindName) else {
                throw PlanError(
                    step: id,
                    field: "kind",
                    "step \(id): unknown kind \(kindName)"
                        + Suggestion.hint(for: kindName, among: JobKind.allCases.map(\.rawValue))
                )
            }
            var params: [String: JSONValue] = [:]
            switch step["params"] {
            case nil, .null?: break
            case .object(let object)?: params = object
            default: throw PlanError(step: id, field: "params", "step \(id): params must be an object")
            }
            var after: [String] = []
            switch step["after"] {
            case nil, .null?: break
            case .array(let names)?:
                for name in names {
                    guard case .string(let text) = name else {
                        throw PlanError(step: id, field: "after", "step \(id): after holds step ids (strings)")
                    }
                    if !after.contains(text) { after.append(text) }
                }
            case .string(let text)?: after = [text]
            default: throw PlanError(step: id, field: "after", "step \(id): after holds step ids (strings)")
            }
            var hold = false
            switch step["hold"] {
            case nil, .null?: break
            case .bool(let flag)?: hold = flag
            default: throw PlanError(step: id, field: "hold", "step \(id): hold must be true or false")
            }
            raws.append(
                Raw(
                    id: id,
                    kind: kind,
                    params: params,
                    after: after,
                    note: try Self.string(step["note"], field: "note", step: id) ?? defaultNote,
                    hold: hold || heldKinds.contains(kind),
                    priority: try Self.priority(step["priority"], step: id) ?? defaultPriority
                )
            )
        }

        // Second pass: `after` and the references name steps that exist; a reference adds its step to `after`.
        var edges: [[Int]] = Array(repeating: [], count: raws.count)
        for (index, raw) in raws.enumerated() {
            var before: [Int] = []
            for name in raw.after {
                guard let position = positions[name] else {
                    throw PlanError(
                        step: raw.id,
                        field: "after",
                        "step \(raw.id): after: there is no step \(name)"
                            + Suggestion.hint(for: name, among: raws.map(\.id))
                    )
                }
                if !before.contains(position) { before.append(position) }
            }
            for (param, value) in raw.params.sorted(by: { $0.key < $1.key }) {
                if OutputReference(value) != nil {
                    throw PlanError(
                        step: raw.id,
                        field: param,
                        "step \(raw.id): \(param): inside a plan, take an output from a step: "
                            + "{\"from\": {\"step\": \"…\", \"output\": \"…\"}}"
                    )
                }
                guard let reference = StepReference(value) else { continue }
                guard let position = positions[reference.step] else {
                    throw PlanError(
                        step: raw.id,
                        field: param,
                        "step \(raw.id): \(param): there is no step \(reference.step)"
                            + Suggestion.hint(for: reference.step, among: raws.map(\.id))
                    )
                }
                let source = raws[position]
                let outputs = source.kind.spec.outputs.map(\.name)
                guard outputs.contains(reference.output) else {
                    throw PlanError(
                        step: raw.id,
                        field: param,
                        "step \(raw.id): \(param): step \(source.id) (\(source.kind.rawValue)) has no output "
                            + reference.output
                            + (outputs.isEmpty
                                ? "; it has none"
                                : Suggestion.hint(for: reference.output, among: outputs)
                                    + "; it has \(outputs.joined(separator: ", "))")
                    )
                }
                if !before.contains(position) { before.append(position) }
            }
            edges[index] = before
        }

        // The order: Kahn's algorithm, taking the earliest-listed ready step each time, so a plan already in order
        // keeps its order. Steps left over are on a cycle, or after one.
        let order = try Self.order(edges, ids: raws.map(\.id))
        var newPosition: [Int: Int] = [:]
        for (position, index) in order.enumerated() { newPosition[index] = position }

        var steps: [PlanStep] = []
        for index in order {
            let raw = raws[index]
            // References become job references numbered by the source step's new position (plus one), so the
            // parameters are checked as a job's with references would be.
            var params = raw.params
            for (param, value) in raw.params {
                guard let reference = StepReference(value), let source = positions[reference.step],
                    let position = newPosition[source]
                else { continue }
                params[param] = OutputReference(job: Int64(position + 1), output: reference.output).json
            }
            let validated: ValidatedParams
            do {
                validated = try ValidatedParams(
                    kind: raw.kind,
                    raw: params,
                    defaults: defaults,
                    allowingReferences: true
                )
            } catch {
                throw PlanError(step: raw.id, field: error.field, "step \(raw.id): \(error.message)")
            }
            if let note = raw.note, note.unicodeScalars.count > 1000 {
                throw PlanError(step: raw.id, field: "note", "step \(raw.id): note is longer than 1000 characters")
            }
            steps.append(
                PlanStep(
                    id: raw.id,
                    params: validated,
                    after: edges[index].compactMap { newPosition[$0] }.sorted(),
                    note: raw.note,
                    hold: raw.hold,
                    priority: raw.priority
                )
            )
        }
        self.name = name
        self.steps = steps
    }

    /// The steps in an order where each comes after those it waits on (`edges[i]`: the steps `i` comes after).
    ///
    /// - Throws: ``PlanError`` naming the steps of a cycle, in order (`a → b → a`).
    static func order(_ edges: [[Int]], ids: [String]) throws(PlanError) -> [Int] {
        var remaining = edges.map { Set($0) }
        var dependents: [[Int]] = Array(repeating: [], count: edges.count)
        for (index, before) in edges.enumerated() {
            for other in before { dependents[other].append(index) }
        }
        var ready = Set(remaining.indices.filter { remaining[$0].isEmpty })
        var order: [Int] = []
        while let next = ready.min() {
            ready.remove(next)
            order.append(next)
            for dependent in dependents[next] {
                remaining[dependent].remove(next)
                if remaining[dependent].isEmpty { ready.insert(dependent) }
            }
        }
        guard order.count < edges.count else { return order }
        // Walk back from a step left over along what it waits on (also left over) until a step repeats: a cycle.
        let placed = Set(order)
        var walk: [Int] = [edges.indices.first { !placed.contains($0) }!]
        while true {
            let current = walk.last!
            let next = edges[current].filter { !placed.contains($0) }.min()!
            if let start = walk.firstIndex(of: next) {
                let cycle = Array(walk[start...]) + [next]
                let named = cycle.map { ids[$0] }
                throw PlanError(
                    step: named[0],
                    field: "after",
                    "steps \(named.joined(separator: " → ")) form a cycle: each comes after the next, so none "
                        + "could start"
                )
            }
            walk.append(next)
        }
    }

    static func isStepID(_ id: String) -> Bool {
        !id.isEmpty && id.unicodeScalars.count <= 64
            && id.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_".unicodeScalars.contains($0)
            }
    }

    private static func refuseUnknown(
        _ fields: [String: JSONValue],
        known: Set<String>,
        step: String?,
        what: String
    ) throws(PlanError) {
        guard let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) else { return }
        throw PlanError(
            step: step,
            field: unknown,
            (step.map { "step \($0): " } ?? "") + "\(what) has no field \(unknown)"
                + (Suggestion.closest(to: unknown, among: known).map { " (did you mean \($0)?)" }
                    ?? "; it takes \(known.sorted().joined(separator: ", "))")
        )
    }

    private static func priority(_ value: JSONValue?, step: String?) throws(PlanError) -> Int? {
        switch value {
        case nil, .null?: return nil
        case .integer(let number)? where JobPriority.range.contains(Int(clamping: number)): return Int(number)
        default:
            throw PlanError(
                step: step,
                field: "priority",
                (step.map { "step \($0): " } ?? "") + "priority is a whole number from -10 to 10"
            )
        }
    }

    private static func string(_ value: JSONValue?, field: String, step: String?) throws(PlanError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw PlanError(step: step, field: field, (step.map { "step \($0): " } ?? "") + "\(field) is a string")
        }
    }
}

extension ValidatedParams {
    /// These parameters with each job reference's `job` replaced by `ids(job)`: a plan step's references, numbered by
    /// step position, once the store knows the steps' job IDs.
    public func renumberingReferences(_ ids: (Int64) -> Int64) -> ValidatedParams {
        var values = self.values
        for (name, reference) in references {
            values[name] = OutputReference(job: ids(reference.job), output: reference.output).json
        }
        return ValidatedParams(trusted: values, kind: kind)
    }
}
