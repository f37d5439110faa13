import Foundation
public import GRDB
public import OpsCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's SQLite database, over any GRDB `DatabaseWriter` (as GRDB's demo `AppDatabase` is): in the daemon one
/// `DatabasePool` per process (WAL, `synchronous=FULL`, see ``init(path:durationHistory:)``), in store tests that are
/// not about files an in-memory `DatabaseQueue`. One write transaction per invariant: a state change and its event
/// are committed together or not at all.
public struct OpsDatabase: Sendable {
    /// Every read and write goes through it.
    let writer: any DatabaseWriter
    /// Which deliveries each event makes; set by the daemon from its webhook configuration (and again on SIGHUP).
    let outbox = OutboxBox()
    /// What the configuration fills into or decides for parameters: a waiting job's are checked again with them
    /// once taken from outputs. Set by the daemon.
    let paramDefaults = ParamDefaultsBox()
    /// Where the database file lives (`:memory:` for an in-memory one).
    public let path: String
    /// Observed operation durations kept per kind (the adaptive poll schedule's history).
    public let durationHistory: Int
    /// Signalled after every committed write.
    public let changes = ChangeFeed()
    /// Whether writes go through, as the last commits found (a full disk stops them all).
    public let storage = StorageHealth()
    /// Submissions waiting for the running ``GroupCommit``.
    let submissions = SubmissionQueue()
    /// How long a statement waits for a lock another connection holds (GRDB sets it with `sqlite3_busy_timeout`).
    static let busyTimeout: TimeInterval = 5
    /// Set while erased secrets may still be in the WAL: the checkpoint after the erase found readers in the way.
    let walScrubPending = PendingFlag()

    /// The store over `writer`, its pending migrations run. The writer's connections must have been set up as the
    /// store expects (``configuration``): ``init(path:durationHistory:)`` does that for the daemon's file.
    public init(_ writer: any DatabaseWriter, durationHistory: Int = 500) throws {
        try Schema.migrator.migrate(writer)
        self.writer = writer
        self.path = writer.path
        self.durationHistory = max(1, durationHistory)
    }

    /// Opens (creating if needed, mode 0600) the database file at `path` as the process's one `DatabasePool`, and
    /// runs pending migrations.
    ///
    /// An existing file is first read through a read-only connection (``StartupCheck``): a damaged file, or one that a
    /// newer version migrated, is refused with ``DatabaseRefusal`` before anything can write to it.
    public init(path: String, durationHistory: Int = 500) throws {
        try StartupCheck.verify(path: path, migrator: Schema.migrator)
        // Create the file owner-only before SQLite touches it; SQLite gives -wal and -shm the same mode.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        chmod(path, 0o600)
        try self.init(DatabasePool(path: path, configuration: Self.configuration), durationHistory: durationHistory)
    }

    /// An empty database in memory, with the daemon's schema and connection settings: for tests of what does not
    /// depend on files (WAL, durability, file modes). Nothing of it outlives the value.
    package static func inMemory(durationHistory: Int = 500) throws -> OpsDatabase {
        try OpsDatabase(DatabaseQueue(configuration: configuration), durationHistory: durationHistory)
    }

    /// How every connection of the store is set up.
    static var configuration: Configuration {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Erased secrets (admin_password) are overwritten on disk, not left in free pages; their older copies in
            // the WAL are removed by the checkpoint that follows the erase (scrubWALIfNeeded).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.label = "kinsta-opsd"
        return configuration
    }

    /// Closes the idle reader connections and shrinks the writer's cache once their work is done: what a burst of
    /// concurrent reads (hundreds of follow streams catching up) opened is not kept for good.
    public func releaseMemoryEventually() {
        // An in-memory queue has no readers to close.
        (writer as? DatabasePool)?.releaseMemoryEventually()
    }

    /// Sets (or clears) what deliveries events make from now on.
    public func setDeliveryPlanner(_ planner: DeliveryPlanner?) {
        outbox.set(planner)
    }
}

/// The current delivery planner, swapped on SIGHUP.
extension OpsDatabase {
    /// The defaults a waiting job's parameters are checked with when they are taken from outputs.
    public func setParamDefaults(_ defaults: ParamDefaults) {
        paramDefaults.set(defaults)
    }
}

final class ParamDefaultsBox: Sendable {
    private let value = Mutex(ParamDefaults())

    func get() -> ParamDefaults { value.withLock { $0 } }

    func set(_ defaults: ParamDefaults) { value.withLock { $0 = defaults } }
}

final class OutboxBox: Sendable {
    private let value = Mutex<DeliveryPlanner?>(nil)

    func get() -> DeliveryPlanner? { value.withLock { $0 } }

    func set(_ planner: DeliveryPlanner?) { value.withLock { $0 = planner } }
}
