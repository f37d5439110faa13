import Foundation
import OpsCore
import OpsProtocol

/// Text formatting shared by the commands: times, truncation, JSON values, job summaries.
///
/// Everything here is a pure function of its inputs (times take `now` explicitly), so output is stable for tests.
enum Format {
    /// "12s ago", "5m ago", "3h ago", "2d ago"; "in 5s" for a time to come. Elapsed times are ``DurationText``.
    static func relative(_ date: Date, now: Date = Date()) -> String {
        let seconds = now.timeIntervalSince(date)
        let text = DurationText.format(abs(seconds), units: 1)
        return seconds >= 0 ? "\(text) ago" : "in \(text)"
    }

    /// `1 poll`, `3 polls`.
    static func count(_ value: Int, _ noun: String) -> String {
        "\(value) \(noun)\(value == 1 ? "" : "s")"
    }

    /// Local wall-clock time: `HH:mm:ss` when `date` is today, `yyyy-MM-dd HH:mm:ss` otherwise.
    static func clock(_ date: Date, now: Date = Date()) -> String {
        let calendar = Calendar.current
        return calendar.isDate(date, inSameDayAs: now) ? time(date) : timestamp(date)
    }

    /// Local `yyyy-MM-dd HH:mm:ss`.
    static func timestamp(_ date: Date) -> String {
        let parts = Calendar.current.dateComponents([.year, .month, .day], from: date)
        return "\(parts.year ?? 0)-\(pad2(parts.month ?? 0))-\(pad2(parts.day ?? 0)) \(time(date))"
    }

    /// Local `HH:mm:ss`.
    static func time(_ date: Date) -> String {
        let parts = Calendar.current.dateComponents([.hour, .minute, .second], from: date)
        return "\(pad2(parts.hour ?? 0)):\(pad2(parts.minute ?? 0)):\(pad2(parts.second ?? 0))"
    }

    /// A timestamp with its distance from now: `2026-11-23 01:02:03 (5m ago)`.
    static func when(_ date: Date, now: Date = Date()) -> String {
        "\(timestamp(date)) (\(relative(date, now: now)))"
    }

    private static func pad2(_ value: Int) -> String {
        value < 10 && value >= 0 ? "0\(value)" : "\(value)"
    }

    /// Cuts `text` to `width` characters, the last one being `…` when anything was cut.
    static func truncate(_ text: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        guard text.count > width else { return text }
        return String(text.prefix(width - 1)) + "…"
    }

    /// Collapses line breaks and tabs into single spaces, so a message stays on one table row.
    static func oneLine(_ text: String) -> String {
        var out = ""
        var lastWasSpace = false
        for character in text {
            let isSpace = character.isNewline || character == "\t"
            if isSpace {
                if !lastWasSpace { out.append(" ") }
            } else {
                out.append(character)
            }
            lastWasSpace = isSpace
        }
        return out.trimmingCharacters(in: .whitespaces)
    }

    /// A JSON value as compact JSON text (sorted keys).
    static func json(_ value: JSONValue) -> String {
        guard let data = try? WireJSON.encoder().encode(value) else { return "?" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The raw body of a daemon answer, ready to print: trailing line breaks removed.
    static func rawJSON(_ body: Data) -> String {
        var text = String(decoding: body, as: UTF8.self)
        while text.last?.isNewline == true { text.removeLast() }
        return text
    }

    /// What a job works on, for tables: the new site's name, else the site or environment ID, else the daemon's key.
    static func target(of job: JobView) -> String {
        if let subject = JobKind(rawValue: job.kind)?.spec.subject, let value = job.params[subject], value != .null {
            return JSONValue.plainText(value)
        }
        return job.target
    }

    /// `from → to`, with `new` for the event that created the job.
    static func transition(_ event: EventView) -> String {
        if event.planID != nil { return "plan finished" }
        if event.schedule != nil { return "schedule skipped" }
        return "\(event.from ?? "new") → \(event.to)"
    }

    /// An event's message, or its operation ID when it has no message.
    static func eventMessage(_ event: EventView) -> String {
        if let message = event.message, !message.isEmpty { return oneLine(message) }
        if let operation = event.operationID { return "operation \(operation)" }
        return ""
    }
}
