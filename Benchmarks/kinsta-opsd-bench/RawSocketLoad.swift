import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// P3's lean load generator: each client is a thread with one keep-alive connection to the daemon's Unix socket,
/// writing a prepared HTTP/1.1 request and reading the answer with plain `write`/`read`. It spends a few
/// microseconds a request where libcurl through `CurlHTTPClient` (an event loop thread, a continuation per request,
/// a JSON body encoded each time) spends a tenth of a millisecond or more. The machine has 2 cores, and the clients
/// share them with the daemon, so this row measures the daemon rather than its harness.
enum RawSocketLoad {
    /// Submits `count` jobs (`p3-<first>` …) through `clients` connections at once; the latency of each, in ms.
    static func submit(socketPath: String, clients: Int, count: Int, from first: Int) async throws -> [Double] {
        try await withCheckedThrowingContinuation { continuation in
            let results = Results(clients)
            let group = DispatchGroup()
            for worker in 0..<clients {
                group.enter()
                let thread = Thread {
                    defer { group.leave() }
                    results.store(worker) {
                        let indices = Array(stride(from: first + worker, to: first + count, by: clients))
                        return try run(socketPath: socketPath, indices: indices)
                    }
                }
                thread.start()
            }
            group.notify(queue: .global()) { continuation.resume(with: results.merged()) }
        }
    }

    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var latencies: [[Double]]
        private var failure: (any Error)?

        init(_ clients: Int) { latencies = Array(repeating: [], count: clients) }

        func store(_ worker: Int, _ body: () throws -> [Double]) {
            do {
                let mine = try body()
                lock.withLock { latencies[worker] = mine }
            } catch {
                lock.withLock { failure = failure ?? error }
            }
        }

        func merged() -> Result<[Double], any Error> {
            lock.withLock { failure.map { .failure($0) } ?? .success(latencies.flatMap { $0 }) }
        }
    }

    private static func run(socketPath: String, indices: [Int]) throws -> [Double] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw BenchError("socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw BenchError("connect \(socketPath): errno \(errno)") }
        var latencies: [Double] = []
        latencies.reserveCapacity(indices.count)
        var buffer = [UInt8](repeating: 0, count: 16_384)
        for index in indices {
            let body =
                "{\"kind\":\"site.create_plain\",\"params\":{\"display_name\":\"p3-\(index)\",\"region\":\"us-central1\"}}"
            let request = Array(
                ("POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n" + body).utf8
            )
            let began = DispatchTime.now().uptimeNanoseconds
            try writeAll(fd, request)
            let status = try readAnswer(fd, &buffer)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - began) / 1_000_000)
            guard status == 201 else { throw BenchError("submit answered \(status)") }
        }
        return latencies
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, bytes.count - sent) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw BenchError("write: errno \(errno)") }
            sent += n
        }
    }

    /// Reads one answer (head and a `Content-Length` body) and returns its status code.
    private static func readAnswer(_ fd: Int32, _ buffer: inout [UInt8]) throws -> Int {
        var filled = 0
        var needed: Int?
        var status = 0
        while needed.map({ filled < $0 }) ?? true {
            if filled == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw BenchError("read: connection closed after \(filled) bytes") }
            filled += n
            if needed == nil, let end = headEnd(buffer, filled) {
                let head = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
                status = Int(head.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
                guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                    let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                else { throw BenchError("answer without Content-Length") }
                needed = end + 4 + length
            }
        }
        guard filled == needed else { throw BenchError("answer longer than its Content-Length") }
        return status
    }

    private static func headEnd(_ buffer: [UInt8], _ filled: Int) -> Int? {
        guard filled >= 4 else { return nil }
        for i in 0...(filled - 4)
        where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }
}
