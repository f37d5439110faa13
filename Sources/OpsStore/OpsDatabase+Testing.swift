import GRDB

/// Hooks for tests that inject faults or look at the file on disk. Not part of the API.
extension OpsDatabase {
    /// Runs raw SQL, for tests that inject faults. Not part of the API.
    package func executeForTesting(_ sql: String) async throws {
        try await writer.write { db in try db.execute(sql: sql) }
    }

    /// Runs `body` inside a read transaction that has read from the database, so it holds its snapshot (and the WAL)
    /// until `body` returns: for tests of what a long reader delays.
    package func readForTesting(_ body: @escaping @Sendable () -> Void) async throws {
        try await writer.read { db in
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM job")
            body()
        }
    }

    /// Closes every connection (the last one checkpoints and removes the WAL), for tests that then look at the file
    /// alone. The database cannot be used afterwards.
    package func closeForTesting() throws {
        try writer.close()
    }

    /// Copies the WAL into the main file and empties it, for tests that inspect the bytes on disk.
    package func checkpointForTesting() async throws {
        try await writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}
