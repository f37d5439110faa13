import OpsCore
import Testing

/// A plan is checked whole before anything is stored (docs/architecture.md, "Plans").
@Suite struct PlanTests {
    static let defaults = ParamDefaults(company: "company-1")

    static func step(
        _ id: String,
        _ kind: String,
        _ params: [String: JSONValue] = [:],
        after: [String] = []
    )
        -> JSONValue
    {
        var object: [String: JSONValue] = ["id": .string(id), "kind": .string(kind), "params": .object(params)]
        if !after.isEmpty { object["after"] = .array(after.map(JSONValue.string)) }
        return .object(object)
    }

    static func plan(_ steps: [JSONValue], name: String = "release") -> JSONValue {
        ["name": .string(name), "steps": .array(steps)]
    }

    static func from(_ step: String, _ output: String) -> JSONValue {
        ["from": ["step": .string(step), "output": .string(output)]]
    }

    /// The release plan: backup, push, clear; the clear's environment comes from the push.
    static let release = plan([
        step("clear", "cache.clear", ["environment_id": from("push", "env_id")]),
        step(
            "push",
            "environment.push",
            ["site_id": "site-1", "source_env_id": "env-staging", "target_env_id": "env-live"],
            after: ["backup"]
        ),
        step("backup", "backup.create", ["env_id": "env-live", "tag": "before release"]),
    ])

    @Test func stepsComeInAnOrderWhereEachFollowsWhatItWaitsOn() throws {
        let plan = try ValidatedPlan(json: Self.release, defaults: Self.defaults)
        #expect(plan.name == "release")
        #expect(plan.steps.map(\.id) == ["backup", "push", "clear"])
        #expect(plan.steps[1].after == [0])
        // A reference adds its step to `after`, and is numbered by that step's position (plus one)
        #expect(plan.steps[2].after == [1])
        #expect(plan.steps[2].params.references["environment_id"] == OutputReference(job: 2, output: "env_id"))
        let renumbered = plan.steps[2].params.renumberingReferences { $0 + 40 }
        #expect(renumbered.references["environment_id"] == OutputReference(job: 42, output: "env_id"))
    }

    @Test func aListedOrderIsKeptWhenItAlreadyWorks() throws {
        let plan = try ValidatedPlan(
            json: Self.plan([
                Self.step("a", "cache.clear", ["environment_id": "env-1"]),
                Self.step("b", "cache.clear", ["environment_id": "env-2"]),
                Self.step("c", "cache.clear", ["environment_id": "env-3"], after: ["a"]),
            ]),
            defaults: Self.defaults
        )
        #expect(plan.steps.map(\.id) == ["a", "b", "c"])
    }

    @Test func aCycleIsRefusedNamingItsSteps() {
        let json = Self.plan([
            Self.step("first", "cache.clear", ["environment_id": "env-1"]),
            Self.step("a", "cache.clear", ["environment_id": "env-1"], after: ["c"]),
            Self.step("b", "cache.clear", ["environment_id": "env-1"], after: ["a", "first"]),
            Self.step("c", "cache.clear", ["environment_id": "env-1"], after: ["b"]),
            Self.step("tail", "cache.clear", ["environment_id": "env-1"], after: ["c"]),
        ])
        #expect {
            try ValidatedPlan(json: json, defaults: Self.defaults)
        } throws: { error in
            let error = error as? PlanError
            // Walked from the first step left over (a), along what each waits on: a after c, c after b, b after a
            return error?.message.hasPrefix("steps a → c → b → a form a cycle") == true && error?.field == "after"
                && error?.step == "a"
        }
        #expect {
            try ValidatedPlan(
                json: Self.plan([Self.step("self", "cache.clear", ["environment_id": "env-1"], after: ["self"])]),
                defaults: Self.defaults
            )
        } throws: { ($0 as? PlanError)?.message.hasPrefix("steps self → self form a cycle") == true }
    }

    @Test(arguments: [
        (
            plan([step("backup", "backup.create", ["env_id": "e"]), step("push", "cache.clear", after: ["bakup"])]),
            "push", "after", "step push: after: there is no step bakup (did you mean backup?)"
        ),
        (
            plan([
                step("backup", "backup.create", ["env_id": "e"]),
                step("clear", "cache.clear", ["environment_id": from("backup", "env_id")]),
            ]),
            "clear", "environment_id",
            "step clear: environment_id: step backup (backup.create) has no output env_id; it has backup_id"
        ),
        (
            plan([step("clear", "cache.clear", ["environment_id": ["from": ["job": 4, "output": "env_id"]]])]),
            "clear", "environment_id",
            #"step clear: environment_id: inside a plan, take an output from a step: {"from": {"step": "…", "output": "…"}}"#
        ),
        (
            plan([step("a", "cache.clear", ["environment_id": "e"]), step("a", "cache.clear", ["environment_id": "f"])]
            ),
            "a", "id", "two steps have the id a"
        ),
        (
            plan([step("clear", "cache.clear", ["environmnt_id": "e"])]),
            "clear", "environmnt_id",
            "step clear: cache.clear has no parameter environmnt_id (did you mean environment_id?)"
        ),
        (
            plan([step("x", "cache.clean", ["environment_id": "e"])]),
            "x", "kind", "step x: unknown kind cache.clean (did you mean cache.clear?)"
        ),
        (
            plan([step("Bad Id", "cache.clear", ["environment_id": "e"])]),
            "Bad Id", "id", "step id Bad Id must be 1–64 of a-z, 0-9, '-', '_'"
        ),
    ])
    func anInvalidStepRefusesThePlanNamingTheStep(json: JSONValue, step: String, field: String, message: String) {
        #expect {
            try ValidatedPlan(json: json, defaults: Self.defaults)
        } throws: { error in
            let error = error as? PlanError
            return error?.step == step && error?.field == field && error?.message == message
        }
    }

    @Test func aPlanNeedsANameAndSteps() {
        #expect(throws: PlanError.self) { try ValidatedPlan(json: ["steps": []], defaults: Self.defaults) }
        #expect(throws: PlanError.self) {
            try ValidatedPlan(json: ["name": "x", "steps": []], defaults: Self.defaults)
        }
        #expect {
            try ValidatedPlan(json: ["name": "x", "stepz": []], defaults: Self.defaults)
        } throws: { ($0 as? PlanError)?.message == "a plan has no field stepz (did you mean steps?)" }
    }

    @Test func thePlansPriorityAndHeldKindsReachItsSteps() throws {
        let json: JSONValue = [
            "name": "nightly", "priority": -5,
            "steps": [
                Self.step("b1", "backup.create", ["env_id": "e1"]),
                ["id": "b2", "kind": "backup.create", "params": ["env_id": "e2"], "priority": 3],
                Self.step("drop", "site.delete", ["site_id": "s1"]),
            ],
        ]
        let plan = try ValidatedPlan(
            json: json,
            defaults: Self.defaults,
            heldKinds: [JobKind(rawValue: "site.delete")!]
        )
        #expect(plan.steps.map(\.priority) == [-5, 3, -5])
        #expect(plan.steps.map(\.hold) == [false, false, true])
    }
}
