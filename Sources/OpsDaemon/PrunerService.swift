import Foundation
public import Logging
public import OpsStore
public import ServiceLifecycle

/// Keeps the history bounded: every `interval`, deletes jobs that ended more than `retention` ago, with their events,
/// in batches (one short transaction each, so the socket and the engine never wait long).
public struct PrunerService: Service {
    let database: OpsDatabase
    let clock: any DaemonClock
    let retention: Double
    let interval: Double
    let batch: Int
    let logger: Logger

    public init(
        database: OpsDatabase,
        clock: any DaemonClock,
        retentionDays: Double,
        interval: Double = 3600,
        batch: Int = 500,
        logger: Logger
    ) {
        self.database = database
        self.clock = clock
        self.retention = retentionDays * 86_400
        self.interval = interval
        self.batch = batch
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do {
                        try await pruneOnce()
                    } catch let error where StorageHealth.storageFault(error) != nil {
                        // A full disk (a DELETE needs room in the WAL too): try again at the next pass, never end
                        // the daemon for it.
                        database.storage.recordFailure(error, now: clock.now())
                        logger.error(
                            "could not prune old jobs; trying again at the next pass",
                            metadata: [
                                "error": "\(StorageHealth.storageFault(error) ?? "")"
                            ]
                        )
                    }
                    try await clock.sleep(until: clock.now().addingTimeInterval(interval))
                }
            }
        } catch is CancellationError {
            // Shutdown interrupted the sleep: a normal end, not a failure of the group.
        }
    }

    /// Deletes everything past retention, batch by batch. Returns the number of jobs deleted.
    @discardableResult
    public func pruneOnce() async throws -> Int {
        let cutoff = clock.now().addingTimeInterval(-retention)
        var total = 0
        while true {
            let deleted = try await database.pruneFinished(before: cutoff, limit: batch)
            total += deleted
            if deleted < batch { break }
            await Task.yield()
        }
        if total > 0 { logger.info("pruned old jobs", metadata: ["jobs": "\(total)"]) }
        // A WAL scrub that readers kept from finishing after a secret was erased is tried again here, so it does not
        // wait for the next transition.
        await database.retryPendingWALScrub()
        return total
    }
}
