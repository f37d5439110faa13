import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Why an existing database file was not opened: it is not a sound SQLite file, or a newer version wrote it. The file
/// was not changed; ``message`` is one line that names it and says what to do.
public struct DatabaseRefusal: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// Not a database, cut short, or `PRAGMA quick_check` found damage.
        case corrupt
        /// It holds migrations this binary does not know: opening it could undo or break what they did.
        case newerSchema
        /// It could not be read at all (permissions, a directory at the path): nothing is known of its content.
        case unreadable
    }

    public var reason: Reason
    public var path: String
    public var message: String

    public var description: String { message }
}

/// Looks at an existing database file through a read-only connection before any writer opens it.
///
/// Opening the `DatabasePool` can write (it sets WAL mode, recovers a WAL, runs migrations), and a damaged file would
/// then be changed before anything noticed; a downgraded binary would migrate or prune a newer schema. So the file is
/// first read with `SQLITE_OPEN_READONLY`: its format, `PRAGMA quick_check` (the b-trees and their pages, without the
/// index-to-table cross-check of `integrity_check`, which costs a full scan of every index) and the applied migrations.
enum StartupCheck {
    /// Throws ``DatabaseRefusal`` when the file at `path` must not be opened for writing. A missing or empty file (a
    /// new database) passes.
    static func verify(path: String, migrator: DatabaseMigrator) throws {
        var status = stat()
        guard stat(path, &status) == 0, status.st_size > 0 else { return }
        let wal = path + "-wal"
        let shm = path + "-shm"
        let hadWAL = FileManager.default.fileExists(atPath: wal)
        let hadSHM = FileManager.default.fileExists(atPath: shm)
        do {
            try inspect(path: path, immutable: !hadWAL, migrator: migrator)
        } catch let refusal as DatabaseRefusal {
            // A read-only connection to a WAL file may create empty -wal and -shm files: take back those it made, so
            // a refused directory is left as it was found.
            removeIfCreatedAndEmpty(wal, existed: hadWAL, shm, existed: hadSHM)
            throw refusal
        }
    }

    /// The read-only look. When no `-wal` file exists the database is opened `immutable=1`: SQLite then reads the main
    /// file alone and creates no side files. With a `-wal` (left by a crash) it is read through, as a writer would.
    private static func inspect(path: String, immutable: Bool, migrator: DatabaseMigrator) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.label = "kinsta-opsd startup check"
        let target = immutable ? "file:\(uriEscaped(path))?immutable=1" : path
        let unknown: [String]
        do {
            let queue = try DatabaseQueue(path: target, configuration: configuration)
            let problems = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
            guard problems == ["ok"] else {
                throw corrupt(path, "PRAGMA quick_check found: " + oneLine(problems.joined(separator: "; ")))
            }
            unknown = try queue.read { db in
                try migrator.appliedIdentifiers(db).subtracting(migrator.appliedMigrations(db)).sorted()
            }
            try queue.close()
        } catch let refusal as DatabaseRefusal {
            throw refusal
        } catch let error as DatabaseError
            where [.SQLITE_NOTADB, .SQLITE_CORRUPT, .SQLITE_FORMAT, .SQLITE_RANGE].contains(error.resultCode)
        {
            throw corrupt(path, oneLine(error.message ?? "\(error.resultCode)"))
        } catch {
            throw DatabaseRefusal(
                reason: .unreadable,
                path: path,
                message: "cannot read the database \(path) (\(oneLine("\(error)"))); it was not changed"
            )
        }
        guard unknown.isEmpty else {
            throw DatabaseRefusal(
                reason: .newerSchema,
                path: path,
                message: "the database \(path) was written by a newer kinsta-opsd (it has the migration"
                    + " \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")) that this version does not know);"
                    + " it was not changed: run the newer kinsta-opsd, or restore a backup this version wrote"
            )
        }
    }

    private static func corrupt(_ path: String, _ detail: String) -> DatabaseRefusal {
        DatabaseRefusal(
            reason: .corrupt,
            path: path,
            message: "the database \(path) is damaged or not a kinsta-opsd database (\(detail)); it was not changed:"
                + " stop here, restore it from a backup, or move it (with any -wal file) aside to start empty"
        )
    }

    private static func oneLine(_ text: String) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: "; ")
        return flat.count > 300 ? String(flat.prefix(300)) + "…" : flat
    }

    /// `path` as the path part of an SQLite URI: `%`, `?` and `#` (and anything outside printable ASCII) escaped.
    private static func uriEscaped(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "%?#")
        return path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
    }

    private static func removeIfCreatedAndEmpty(
        _ wal: String,
        existed hadWAL: Bool,
        _ shm: String,
        existed hadSHM: Bool
    ) {
        var status = stat()
        guard !hadWAL, stat(wal, &status) == 0, status.st_size == 0 else { return }
        unlink(wal)
        if !hadSHM { unlink(shm) }
    }
}
