import CCurl
import Foundation
import Synchronization

/// An async HTTP client over libcurl: one multi handle driven by one dedicated thread, so no call blocks Swift's
/// cooperative pool. Exact total deadlines, task cancellation, a CA file, Unix sockets, streamed bodies.
public final class CurlHTTPClient: Sendable {
    private let loop: CurlMultiLoop

    public init() {
        CurlMultiLoop.initializeLibcurlOnce()
        loop = CurlMultiLoop()
    }

    deinit {
        loop.shutdown()
    }

    /// Sends `request` and collects the whole response. Statuses are values; only transport failures throw
    /// (``HTTPClientError``), and cancelling the calling task throws `CancellationError` at once.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        try request.validate()
        try Task.checkCancellation()
        let box = Mutex<CurlTransfer?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let transfer = CurlTransfer(request: request, mode: .collect(continuation))
                box.withLock { $0 = transfer }
                loop.start(transfer)
            }
        } onCancel: {
            if let transfer = box.withLock({ $0 }) { loop.cancel(transfer) }
        }
    }

    /// Sends `request` and returns once the response head is in; the body follows as a stream.
    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        try request.validate()
        try Task.checkCancellation()
        let box = Mutex<CurlTransfer?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let transfer = CurlTransfer(request: request, mode: .stream(head: continuation))
                box.withLock { $0 = transfer }
                loop.start(transfer)
            }
        } onCancel: {
            if let transfer = box.withLock({ $0 }) { loop.cancel(transfer) }
        }
    }

    /// Stops the loop thread; transfers under way fail with ``HTTPClientError/cancelled``. Idempotent.
    public func shutdown() {
        loop.shutdown()
    }
}

/// The thread that drives the multi handle. Other threads talk to it only through `commands` and `curl_multi_wakeup`.
final class CurlMultiLoop: Sendable {
    private enum Command {
        case start(CurlTransfer)
        case cancel(CurlTransfer)
    }

    private struct Shared: ~Copyable {
        var commands: [Command] = []
        var stopping = false
        var stopped = false
    }

    /// `OpaquePointer` to the CURLM; only the loop thread uses it, except `curl_multi_wakeup`, which is thread-safe.
    private nonisolated(unsafe) let multi: UnsafeMutableRawPointer
    private let shared = Mutex(Shared())

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    static func initializeLibcurlOnce() { _ = globalInit }

    init() {
        multi = curl_multi_init()!
        let thread = Thread { [self] in self.run() }
        thread.name = "libcurl"
        thread.start()
    }

    func start(_ transfer: CurlTransfer) {
        let accepted = shared.withLock { shared -> Bool in
            guard !shared.stopping else { return false }
            shared.commands.append(.start(transfer))
            return true
        }
        if accepted { curl_multi_wakeup(multi) } else { transfer.fail(HTTPClientError.cancelled) }
    }

    func cancel(_ transfer: CurlTransfer) {
        transfer.cancelled.withLock { $0 = true }
        shared.withLock { $0.commands.append(.cancel(transfer)) }
        curl_multi_wakeup(multi)
    }

    func shutdown() {
        let first = shared.withLock { shared -> Bool in
            defer { shared.stopping = true }
            return !shared.stopping
        }
        if first { curl_multi_wakeup(multi) }
    }

    private func run() {
        var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        while true {
            let (commands, stopping) = shared.withLock { shared -> ([Command], Bool) in
                defer { shared.commands = [] }
                return (shared.commands, shared.stopping)
            }
            for command in commands {
                switch command {
                case .start(let transfer):
                    if transfer.isCancelled {
                        transfer.fail(CancellationError())
                    } else if transfer.makeHandle(), let easy = transfer.easy,
                        curl_multi_add_handle(multi, easy) == CURLM_OK
                    {
                        active[easy] = transfer
                    } else {
                        transfer.release()
                        transfer.fail(HTTPClientError.invalidRequest)
                    }
                case .cancel(let transfer):
                    guard let easy = transfer.easy, active.removeValue(forKey: easy) != nil else { continue }
                    curl_multi_remove_handle(multi, easy)
                    transfer.release()
                    transfer.fail(CancellationError())
                }
            }
            if stopping {
                for (easy, transfer) in active {
                    curl_multi_remove_handle(multi, easy)
                    transfer.release()
                    transfer.fail(HTTPClientError.cancelled)
                }
                curl_multi_cleanup(multi)
                shared.withLock { $0.stopped = true }
                return
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                    let transfer = active.removeValue(forKey: easy)
                else { continue }
                let result = ccurl_message_result(message)
                curl_multi_remove_handle(multi, easy)
                transfer.release()
                transfer.complete(curlCode: Int32(result.rawValue))
            }
            // Sleeps until a socket is ready, a timeout of libcurl's is due, or a wakeup (new work, cancel, stop).
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}
