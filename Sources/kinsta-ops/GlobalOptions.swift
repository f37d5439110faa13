import ArgumentParser
import Foundation
import Synchronization

/// Options every command takes: where the daemon's socket is, and whether to print JSON.
struct GlobalOptions: ParsableArguments {
    /// Where the daemon listens when nothing else says otherwise.
    static let defaultSocketPath = "/run/kinsta-opsd/kinsta-opsd.sock"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Path of the daemon's Unix socket (default: $KINSTA_OPS_SOCKET, $KINSTA_OPSD_SOCKET, then \(defaultSocketPath)).",
            valueName: "path"
        )
    )
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's JSON instead of tables (NDJSON for history).")
    var json = false

    @Flag(name: .customLong("no-trunc"), help: "Cut no table column (names, IDs, transitions) to fit.")
    var noTrunc = false

    func validate() throws {
        Table.truncates.store(!noTrunc, ordering: .relaxed)
    }

    /// The socket path: `--socket`, else `KINSTA_OPS_SOCKET`, else `KINSTA_OPSD_SOCKET`, else the default.
    var socketPath: String {
        if let socket, !socket.isEmpty { return socket }
        let environment = ProcessInfo.processInfo.environment
        for name in ["KINSTA_OPS_SOCKET", "KINSTA_OPSD_SOCKET"] {
            if let value = environment[name], !value.isEmpty { return value }
        }
        return Self.defaultSocketPath
    }

    /// Runs `body` with a client connected to the configured socket.
    ///
    /// A ``CLIError`` becomes one line on stderr and its exit code (`ExitCode`); usage errors and exit codes pass
    /// through; anything else is reported as one line with exit code 1. The client is shut down afterwards.
    func withClient<T>(_ body: (DaemonClient) async throws -> T) async throws -> T {
        let client = DaemonClient(socketPath: socketPath)
        defer { client.shutdown() }
        do {
            return try await body(client)
        } catch let error as CLIError {
            Console.error(error.message)
            throw ExitCode(error.exitCode)
        } catch let error as ExitCode {
            throw error
        } catch let error as ArgumentParser.ValidationError {
            throw error
        } catch {
            Console.error("kinsta-ops: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}
