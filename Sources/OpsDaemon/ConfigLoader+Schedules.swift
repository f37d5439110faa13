import Foundation
import OpsCore
import PlanFiles
import TOMLKit

extension ConfigFile {
    /// The keys a `[[schedules]]` entry takes.
    static let scheduleKeys = [
        "name", "cron", "timezone", "jitter_seconds", "plan_file", "kind", "params", "note", "priority", "hold",
    ]

    /// The `[[schedules]]` entries, each checked: its cron line, time zone and target (a plan file read and checked
    /// whole as `POST /v1/plans` would, or a kind with its parameters checked as a submission's).
    func schedules(defaults: ParamDefaults, heldKinds: Set<JobKind>) throws -> [ScheduleDefinition] {
        guard let entry = root["schedules"] else { return [] }
        guard let array = entry.array else { throw ConfigError("\(path): schedules must be [[schedules]] tables") }
        let known = Set(Self.scheduleKeys)
        var schedules: [ScheduleDefinition] = []
        for index in 0..<array.count {
            let table = "schedules#\(index + 1)"
            let place = { (key: String) in self.lines["\(table).\(key)"].map { " (\(self.path) line \($0))" } ?? "" }
            guard let schedule = array[index].table else {
                throw ConfigError("\(path): schedules entries must be tables")
            }
            let label = "schedules #\(index + 1)"
            for key in schedule.keys.sorted() where !known.contains(key) {
                throw ConfigError(
                    "\(path): unknown key \(key) in [[schedules]] #\(index + 1)\(place(key))"
                        + Suggestion.hint(for: key, among: Self.scheduleKeys)
                        + "; [[schedules]] takes \(Self.scheduleKeys.joined(separator: ", "))"
                )
            }
            func text(_ key: String) throws -> String? {
                guard let value = schedule[key] else { return nil }
                guard let text = value.string else {
                    throw ConfigError("\(label): \(key) must be a string\(place(key))")
                }
                return text
            }
            guard let name = try text("name") else { throw ConfigError("\(label): name is required\(place("cron"))") }
            guard
                !name.isEmpty, name.count <= 64,
                name.unicodeScalars.allSatisfy({
                    ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_".unicodeScalars.contains($0)
                })
            else {
                throw ConfigError("\(label): name \(name) must be 1–64 of a-z, 0-9, '-', '_'\(place("name"))")
            }
            guard !schedules.contains(where: { $0.name == name }) else {
                throw ConfigError("\(label): another schedule is named \(name)\(place("name"))")
            }
            let named = "schedule \(name)"
            guard let cronText = try text("cron") else {
                throw ConfigError("\(named): cron is required (5 fields, e.g. \"0 3 * * *\")\(place("name"))")
            }
            let cron: CronSchedule
            do { cron = try CronSchedule(cronText) } catch {
                throw ConfigError("\(named): \(error.description)\(place("cron"))")
            }
            let zoneName = try text("timezone") ?? "UTC"
            guard let zone = TimeZone(identifier: zoneName) else {
                throw ConfigError(
                    "\(named): unknown timezone \(zoneName); use an IANA name such as Europe/Berlin or UTC"
                        + place("timezone")
                )
            }
            var jitter = 0
            if let value = schedule["jitter_seconds"] {
                guard let number = value.int, (0...86_400).contains(number) else {
                    throw ConfigError(
                        "\(named): jitter_seconds must be a whole number from 0 to 86400\(place("jitter_seconds"))"
                    )
                }
                jitter = number
            }
            let target: ScheduleDefinition.Target
            switch (try text("plan_file"), try text("kind")) {
            case (let file?, nil):
                for key in ["params", "note", "priority", "hold"] where schedule[key] != nil {
                    throw ConfigError(
                        "\(named): \(key) goes with kind, not plan_file (set it in the plan)\(place(key))"
                    )
                }
                let json: JSONValue
                do {
                    json = try PlanFile.json(of: try PlanFile.data(of: file), path: file)
                } catch {
                    throw ConfigError("\(named): \(error)\(place("plan_file"))")
                }
                do {
                    target = .plan(file: file, try ValidatedPlan(json: json, defaults: defaults, heldKinds: heldKinds))
                } catch {
                    throw ConfigError("\(named): plan_file \(file): \(error.message)\(place("plan_file"))")
                }
            case (nil, let kindName?):
                guard let kind = JobKind(rawValue: kindName) else {
                    throw ConfigError(
                        "\(named): unknown kind \(kindName)"
                            + Suggestion.hint(for: kindName, among: JobKind.allCases.map(\.rawValue)) + place("kind")
                    )
                }
                var raw: [String: JSONValue] = [:]
                if let value = schedule["params"] {
                    guard let params = value.table else {
                        throw ConfigError("\(named): params must be a table\(place("params"))")
                    }
                    guard case .object(let object) = PlanFile.json(of: params) else { preconditionFailure() }
                    raw = object
                }
                let params: ValidatedParams
                do { params = try ValidatedParams(kind: kind, raw: raw, defaults: defaults) } catch {
                    throw ConfigError("\(named): \(error.message)\(place("params"))")
                }
                var priority = 0
                if let value = schedule["priority"] {
                    guard let number = value.int, JobPriority.range.contains(number) else {
                        throw ConfigError(
                            "\(named): priority must be a whole number from -10 to 10\(place("priority"))"
                        )
                    }
                    priority = number
                }
                var hold = heldKinds.contains(kind)
                if let value = schedule["hold"] {
                    guard let flag = value.bool else {
                        throw ConfigError("\(named): hold must be true or false\(place("hold"))")
                    }
                    hold = hold || flag
                }
                target = .job(params, note: try text("note"), priority: priority, hold: hold)
            case (nil, nil):
                throw ConfigError("\(named): give plan_file (a plan) or kind (one job)\(place("name"))")
            case (_?, _?):
                throw ConfigError("\(named): give plan_file or kind, not both\(place("kind"))")
            }
            schedules.append(
                ScheduleDefinition(
                    name: name,
                    cron: cron,
                    timeZone: zone,
                    timeZoneName: zoneName,
                    target: target,
                    jitterSeconds: jitter
                )
            )
        }
        return schedules
    }
}

extension ScheduleDefinition {
    /// The entry as `check-config` prints it: TOML that reads back as the same schedule, secrets left out.
    var summaryLines: [String] {
        var lines = [
            ConfigShown.string(name).line("name"), ConfigShown.string(cron.description).line("cron"),
            ConfigShown.string(timeZoneName).line("timezone"),
            ConfigShown.integer(jitterSeconds).noted("this schedule's runs come \(Int(offset)) s late").line(
                "jitter_seconds"
            ),
        ]
        switch target {
        case .plan(let file, let plan):
            lines.append(
                ConfigShown.string(file).noted("plan \(plan.name), \(plan.steps.count) steps").line("plan_file")
            )
        case .job(let params, let note, let priority, let hold):
            lines.append(ConfigShown.string(params.kind.rawValue).line("kind"))
            let shown = params.withoutSecrets.sorted { $0.key < $1.key }.map { "\($0.key) = \(Self.toml($0.value))" }
            let secrets = params.values.count - params.withoutSecrets.count
            lines.append(
                ConfigShown("{ " + shown.joined(separator: ", ") + (shown.isEmpty ? "}" : " }"))
                    .noted(
                        secrets > 0 ? "\(secrets) secret parameter(s) not shown" : "as validated, defaults filled in"
                    )
                    .line("params")
            )
            if let note { lines.append(ConfigShown.string(note).line("note")) }
            lines.append(ConfigShown.integer(priority).line("priority"))
            lines.append(ConfigShown.bool(hold).line("hold"))
        }
        return lines
    }

    /// A parameter's value as TOML writes it.
    static func toml(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): ConfigShown.quoted(text)
        case .integer(let number): String(number)
        case .number(let number): "\(number)"
        case .bool(let flag): "\(flag)"
        case .array(let items): "[" + items.map(toml).joined(separator: ", ") + "]"
        case .object(let members):
            "{ " + members.sorted { $0.key < $1.key }.map { "\($0.key) = \(toml($0.value))" }.joined(separator: ", ")
                + " }"
        case .null: "\"\""
        }
    }
}
