import ArgumentParser
import CCurl
import CSQLite3
import FloorProbe

#if canImport(Glibc)
import Glibc
#endif

/// `kinsta-opsd-floor-nofoundation`: `kinsta-opsd-floor` without the two libraries that bring full Foundation into
/// the daemon (GRDB and TOMLKit; Hummingbird, NIO and swift-crypto use FoundationEssentials only): SQLite and
/// libcurl through their C APIs, no config file. It measures what the daemon's idle RSS could be if the store and
/// the config parser were rewritten without Foundation (the benchmark's P4, docs/performance.md).
@main
struct FloorWithoutFoundation: AsyncParsableCommand {
    @Option var socket: String
    @Option var database: String

    func run() async throws {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(database, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK,
            sqlite3_exec(
                handle,
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                    + "CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY)",
                nil,
                nil,
                nil
            ) == SQLITE_OK
        else { throw ValidationError("cannot open \(database)") }
        defer { sqlite3_close_v2(handle) }

        guard ccurl_global_init_once() == CURLE_OK, let multi = curl_multi_init() else {
            throw ValidationError("libcurl did not initialise")
        }
        MultiThread.start(multi)

        try await FloorProbe.serve(socket: socket, label: "kinsta-opsd-floor-nofoundation")
    }
}

/// A thread that waits on the libcurl multi handle, as `CurlHTTP`'s loop does (it has no transfers here).
enum MultiThread {
    static func start(_ multi: OpaquePointer) {
        var thread = pthread_t()
        pthread_create(
            &thread,
            nil,
            { argument in
                let multi = OpaquePointer(argument)
                while true {
                    var ready: Int32 = 0
                    _ = curl_multi_poll(multi, nil, 0, 1000, &ready)
                }
            },
            UnsafeMutableRawPointer(multi)
        )
    }
}
