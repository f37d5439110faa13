import CurlHTTP
import Foundation
import OpsCore
import OpsProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process exit codes the CLI documents.
enum ExitStatus {
    static let success: Int32 = 0
    /// The job failed, the daemon had an internal error (5xx), or its answer was not what the CLI expects.
    static let failure: Int32 = 1
    /// Usage error, or the daemon refused the request (4xx).
    static let usage: Int32 = 2
    /// The daemon could not be reached.
    static let unreachable: Int32 = 3
    static let timedOut: Int32 = 4
    static let needsAttention: Int32 = 5
    static let cancelled: Int32 = 6
    /// A job it came after did not succeed, so it never started (workflows).
    static let skipped: Int32 = 7
    /// `wait --timeout` expired while the job was still going.
    static let waitTimeout: Int32 = 124
}

/// An error the CLI reports as one line on stderr, then exits with ``exitCode``.
struct CLIError: Error, CustomStringConvertible {
    /// The complete line, prefixed (`error: …` for the daemon's refusals, `kinsta-ops: …` otherwise).
    var message: String
    var exitCode: Int32
    /// The daemon's own error, when it answered one: what `--json` prints.
    var view: ErrorView?
    /// The daemon could not be reached (worth retrying for long-running commands).
    var isUnreachable: Bool { exitCode == ExitStatus.unreachable }

    var description: String { message }

    init(message: String, exitCode: Int32, view: ErrorView? = nil) {
        self.message = message
        self.exitCode = exitCode
        self.view = view
    }

    /// An error answer of the daemon: `error: <message> (field: x)`, exit 2 for 4xx and 1 otherwise.
    static func daemon(_ view: ErrorView, status: Int) -> CLIError {
        var line = "error: \(Format.oneLine(view.error.message))"
        if let field = view.error.field, !field.isEmpty { line += " (field: \(field))" }
        return CLIError(
            message: line,
            exitCode: (400..<500).contains(status) ? ExitStatus.usage : ExitStatus.failure,
            view: view
        )
    }

    /// The error as `--json` prints it, in the daemon's shape: `{"error": {"code", "message", "field"?}}`. The
    /// CLI's own errors have the codes `usage`, `unreachable` and `failure` (by exit code).
    var json: String {
        let body =
            view?.error
            ?? ErrorView.Body(
                rawCode: exitCode == ExitStatus.usage ? "usage" : isUnreachable ? "unreachable" : "failure",
                message: message.hasPrefix("kinsta-ops: ") ? String(message.dropFirst("kinsta-ops: ".count)) : message
            )
        return (try? WireJSON.encoder().encode(["error": body])).map { String(decoding: $0, as: UTF8.self) } ?? message
    }

    /// Writes the error on stderr: its line, or its JSON with `--json`.
    func report(json: Bool) {
        Console.error(json ? self.json : message)
    }

    /// A local usage problem found while running (unreadable password file, mismatched prompt): exit 2.
    static func usage(_ message: String) -> CLIError {
        CLIError(message: "kinsta-ops: \(message)", exitCode: ExitStatus.usage)
    }
}

/// The daemon's socket API, over `CurlHTTPClient` with a Unix socket.
///
/// Every answer is checked here: 2xx bodies are handed back (decoded on request), error answers become
/// ``CLIError/daemon(_:status:)``, transport failures become one sentence with exit code 3.
struct DaemonClient: Sendable {
    /// The URL authority is irrelevant over a Unix socket, but HTTP/1.1 needs a Host.
    static let baseURL = "http://localhost"

    let socketPath: String
    private let http: CurlHTTPClient

    init(socketPath: String) {
        self.socketPath = socketPath
        self.http = CurlHTTPClient()
    }

    /// Releases the HTTP client.
    func shutdown() {
        http.shutdown()
    }

    /// Builds `http://localhost/v1/<path>?<query>`, percent-encoding the values.
    func url(_ path: String, query: [(String, String?)] = []) -> String {
        let items = query.compactMap { name, value in value.map { "\(name)=\(Self.percentEncode($0))" } }
        return Self.baseURL + path + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
    }

    /// Sends one request and returns its 2xx answer.
    ///
    /// - Throws: ``CLIError`` for a non-2xx answer (the daemon's message) or a transport failure (unreachable).
    func send(
        _ method: String,
        _ path: String,
        query: [(String, String?)] = [],
        body: Data? = nil,
        headers: [HTTPHeader] = [],
        timeout: Duration = .seconds(30)
    ) async throws(CLIError) -> HTTPResponse {
        let response = try await sendAllowingErrors(
            method,
            path,
            query: query,
            body: body,
            headers: headers,
            timeout: timeout
        )
        guard (200..<300).contains(response.status) else {
            throw errorAnswer(status: response.status, body: response.body, route: "\(method) \(path)")
        }
        return response
    }

    /// Sends one request and returns its answer, whatever the status.
    ///
    /// - Throws: ``CLIError`` for a transport failure only.
    func sendAllowingErrors(
        _ method: String,
        _ path: String,
        query: [(String, String?)] = [],
        body: Data? = nil,
        headers: [HTTPHeader] = [],
        timeout: Duration = .seconds(30)
    ) async throws(CLIError) -> HTTPResponse {
        var allHeaders = headers
        if body != nil { allHeaders.append(HTTPHeader("Content-Type", "application/json")) }
        let request = HTTPRequest(
            method: method,
            url: url(path, query: query),
            headers: allHeaders,
            body: body ?? (method == "POST" ? Data() : nil),
            timeout: timeout,
            unixSocketPath: socketPath
        )
        do {
            return try await http.execute(request)
        } catch {
            throw transportError(error, timeout: timeout)
        }
    }

    /// Opens a streamed answer (`GET /v1/events?follow=1`).
    ///
    /// - Throws: ``CLIError`` for a transport failure, or for a non-2xx answer (its body is read to give the message).
    func stream(
        _ path: String,
        query: [(String, String?)],
        timeout: Duration
    ) async throws(CLIError) -> HTTPStreamingResponse {
        let request = HTTPRequest(
            method: "GET",
            url: url(path, query: query),
            timeout: timeout,
            unixSocketPath: socketPath
        )
        let response: HTTPStreamingResponse
        do {
            response = try await http.stream(request)
        } catch {
            throw transportError(error, timeout: timeout)
        }
        guard (200..<300).contains(response.status) else {
            var body = Data()
            do {
                for try await chunk in response.body where body.count < 65_536 { body.append(chunk) }
            } catch {
                // The status is what matters; a cut error body still gives a usable message.
            }
            throw errorAnswer(status: response.status, body: body, route: "GET \(path)")
        }
        return response
    }

    /// `GET path` decoded as `T`, with the raw body for `--json`.
    func get<T: Decodable>(
        _ type: T.Type,
        _ path: String,
        query: [(String, String?)] = []
    ) async throws(CLIError) -> (value: T, raw: Data) {
        let response = try await send("GET", path, query: query)
        return (try decode(type, from: response.body, route: "GET \(path)"), response.body)
    }

    /// `POST path` with an optional JSON body, decoded as `T`, with the status and the raw body.
    func post<T: Decodable>(
        _ type: T.Type,
        _ path: String,
        body: Data? = nil,
        headers: [HTTPHeader] = []
    ) async throws(CLIError) -> (value: T, raw: Data, status: Int) {
        let response = try await send("POST", path, body: body, headers: headers)
        return (try decode(type, from: response.body, route: "POST \(path)"), response.body, response.status)
    }

    /// Decodes a 2xx body with `WireJSON.decoder()`.
    ///
    /// - Throws: ``CLIError`` with exit code 1 when the body is not the JSON the CLI expects.
    func decode<T: Decodable>(_ type: T.Type, from body: Data, route: String) throws(CLIError) -> T {
        do {
            return try WireJSON.decoder().decode(type, from: body)
        } catch {
            throw unexpectedAnswer(route: route, detail: Self.describe(error), body: body)
        }
    }

    /// An answer that is not what the route promises: exit code 1, with a hint of what came back.
    func unexpectedAnswer(route: String, detail: String, body: Data) -> CLIError {
        let preview = Format.truncate(Format.oneLine(String(decoding: body.prefix(200), as: UTF8.self)), to: 80)
        let shown = preview.isEmpty ? "an empty body" : "\"\(preview)\""
        return CLIError(
            message:
                "kinsta-ops: the answer to \(route) from \(socketPath) is not the JSON kinsta-ops expects (\(detail)); got \(shown)",
            exitCode: ExitStatus.failure
        )
    }

    /// Turns a non-2xx answer into the daemon's own message, or a plain description when the body is not an error.
    func errorAnswer(status: Int, body: Data, route: String) -> CLIError {
        if let view = try? WireJSON.decoder().decode(ErrorView.self, from: body) {
            return CLIError.daemon(view, status: status)
        }
        let text = Format.truncate(Format.oneLine(String(decoding: body.prefix(300), as: UTF8.self)), to: 120)
        let detail = text.isEmpty ? "" : ": \(text)"
        return CLIError(
            message: "error: the daemon answered HTTP \(status) to \(route)\(detail)",
            exitCode: (400..<500).contains(status) ? ExitStatus.usage : ExitStatus.failure
        )
    }

    /// Maps a failure of the HTTP client to one sentence. Not reaching the daemon at all is exit code 3.
    func transportError(_ error: any Error, timeout: Duration) -> CLIError {
        let hint = "(is kinsta-opsd running? set --socket or KINSTA_OPS_SOCKET)"
        guard let error = error as? HTTPClientError else {
            if error is CancellationError {
                return CLIError(message: "kinsta-ops: cancelled", exitCode: ExitStatus.failure)
            }
            return CLIError(
                message: "kinsta-ops: cannot reach the daemon at \(socketPath): \(error) \(hint)",
                exitCode: ExitStatus.unreachable
            )
        }
        switch error {
        case .couldNotConnect, .couldNotResolveHost:
            let reason = Self.diagnoseSocket(socketPath).map { ": \($0)" } ?? ""
            return CLIError(
                message: "kinsta-ops: cannot reach the daemon at \(socketPath)\(reason) \(hint)",
                exitCode: ExitStatus.unreachable
            )
        case .connectionReset:
            return CLIError(
                message:
                    "kinsta-ops: the daemon at \(socketPath) closed the connection before answering (is kinsta-opsd restarting?)",
                exitCode: ExitStatus.unreachable
            )
        case .timedOut:
            return CLIError(
                message:
                    "kinsta-ops: the daemon at \(socketPath) did not answer within \(DurationText.format(timeout)) (is kinsta-opsd stuck?)",
                exitCode: ExitStatus.unreachable
            )
        case .cancelled:
            return CLIError(message: "kinsta-ops: cancelled", exitCode: ExitStatus.failure)
        case .responseTooLarge:
            return CLIError(message: "kinsta-ops: the daemon's answer is too large", exitCode: ExitStatus.failure)
        default:
            return CLIError(message: "kinsta-ops: request to the daemon failed: \(error)", exitCode: ExitStatus.failure)
        }
    }

    /// Why a socket path cannot be connected to, when the file system can tell: missing, not a socket, no permission.
    /// `nil` when the socket looks fine (then nothing is listening on it).
    static func diagnoseSocket(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            switch errno {
            case ENOENT, ENOTDIR: return "no socket there"
            case EACCES: return "permission denied (is your user in the socket's group?)"
            default: return String(cString: strerror(errno))
            }
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else { return "that is not a socket" }
        guard access(path, R_OK | W_OK) == 0 else { return "permission denied (is your user in the socket's group?)" }
        return "nothing is listening"
    }

    /// A short reason for a decoding failure: what is wrong and where.
    static func describe(_ error: any Error) -> String {
        func where_(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "" : " at \(path)"
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context): return "missing \(key.stringValue)\(where_(context))"
        case DecodingError.typeMismatch(_, let context): return "wrong type\(where_(context))"
        case DecodingError.valueNotFound(_, let context): return "missing value\(where_(context))"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "bad value\(where_(context))"
        default: return "\(error)"
        }
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    static func percentEncode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

extension DaemonClient {
    /// `GET /v1/jobs/{id}`.
    func job(_ id: Int64) async throws(CLIError) -> (value: JobView, raw: Data) {
        try await get(JobView.self, "/\(socketAPIVersion)/jobs/\(id)")
    }
}
