public import Foundation
public import Logging
import Synchronization

/// One line per log entry on stderr: `level message key=value …`. Under systemd (`JOURNAL_STREAM` set) each line
/// starts with the sd-daemon priority prefix (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug) so
/// `journalctl -p` filters work, and carries no timestamp (the journal adds its own).
public struct StderrLogHandler: LogHandler {
    /// The process's level, changed at run time by SIGHUP (see ``LogLevelControl``).
    public static let level = LogLevelControl()

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level {
        get { Self.level.current }
        set { Self.level.set(newValue) }
    }
    let label: String
    let journal: Bool
    private static let lock = Mutex(())

    public init(
        label: String,
        level: Logger.Level,
        journal: Bool = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
    ) {
        self.label = label
        self.journal = journal
        Self.level.set(level)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let line = Self.format(level: event.level, message: "\(event.message)", metadata: merged, journal: journal)
        Self.lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// Formats one entry; public to the tests through the module.
    static func format(level: Logger.Level, message: String, metadata: Logger.Metadata, journal: Bool) -> String {
        var line = journal ? "<\(priority(level))>" : "\(timestamp()) "
        line += "\(level.rawValue) \(message)"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(quote("\(metadata[key]!)"))"
        }
        return line + "\n"
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    private static func quote(_ value: String) -> String {
        let clean = value.replacingOccurrences(of: "\n", with: "\\n")
        guard clean.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || clean.isEmpty else { return clean }
        return "\"" + clean.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
    }
}

/// The log level shared by every handler of the process.
public final class LogLevelControl: Sendable {
    private let value = Mutex(Logger.Level.info)

    public var current: Logger.Level { value.withLock { $0 } }

    public func set(_ level: Logger.Level) { value.withLock { $0 = level } }
}
