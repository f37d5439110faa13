import CCurl
import Foundation
import Synchronization

/// One libcurl multi handle driven by one dedicated background thread.
///
/// Callers never touch libcurl handles that are in flight: they enqueue commands (add a transfer, cancel a
/// transfer) under a mutex and wake the thread with `curl_multi_wakeup`. The thread drains the commands, runs
/// `curl_multi_perform`, delivers finished transfers, and sleeps in `curl_multi_poll`, which libcurl itself cuts
/// short for its own timers, so `CURLOPT_TIMEOUT_MS` deadlines fire to the millisecond.
///
/// Blocking network I/O therefore never happens on Swift concurrency's cooperative threads.
final class CurlMultiLoop: Sendable {
    /// The multi handle, shareable for `curl_multi_wakeup` only.
    ///
    /// `@unchecked Sendable`: the pointer is used on the loop thread, except for `curl_multi_wakeup`, which
    /// libcurl documents as callable from any thread; that call is made under the mutex and the loop thread
    /// clears the shared copy under the same mutex before `curl_multi_cleanup`, so it never races the cleanup.
    private struct MultiHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer)
    }

    private struct Shared {
        var multi: MultiHandle?
        var commands: [Command] = []
        /// `shutdown()` was called: abort everything and exit.
        var isShutdown = false
        /// The owning client is gone: exit once the last transfer is done.
        var exitWhenIdle = false
        /// Why the loop could not start, if it could not.
        var startupError: HTTPClientError?
    }

    private let shared: Mutex<Shared>

    /// Initializes libcurl (once per process), creates the multi handle and starts the thread.
    ///
    /// If libcurl cannot be initialized, the loop does not start and every ``submit(_:)`` is refused with the
    /// reason, which ``startupError`` reports.
    init() {
        let initCode = ccurl_global_init_once()
        guard initCode == CURLE_OK else {
            shared = Mutex(Shared(multi: nil, isShutdown: true, startupError: .other(Int32(initCode.rawValue))))
            return
        }
        guard let multi = curl_multi_init() else {
            let code = Int32(CURLE_FAILED_INIT.rawValue)
            shared = Mutex(Shared(multi: nil, isShutdown: true, startupError: .other(code)))
            return
        }
        let handle = MultiHandle(pointer: multi)
        shared = Mutex(Shared(multi: handle))
        let thread = Thread { [self] in
            Self.nameCurrentThread()
            self.run(handle)
        }
        thread.start()
    }

    /// Names the OS thread (visible in `top -H`, `/proc`, debuggers). Done from inside the thread because on Linux
    /// `Thread.name` set before `start()` does not reach the OS thread.
    private static func nameCurrentThread() {
        _ = ccurl_set_current_thread_name("CurlHTTP-loop")
    }

    /// Why the loop refuses transfers: ``HTTPClientError/cancelled`` after ``shutdown()``, or a libcurl
    /// initialization failure. `nil` while it accepts them.
    var rejectionError: HTTPClientError? {
        shared.withLock { state in
            state.isShutdown ? (state.startupError ?? .cancelled) : nil
        }
    }

    /// Hands `transfer` to the loop thread. Returns `false` (and does nothing) if the loop no longer accepts
    /// transfers; the caller then still owns the transfer and must fail it.
    func submit(_ transfer: CurlTransfer) -> Bool {
        shared.withLock { state in
            guard !state.isShutdown, let multi = state.multi else { return false }
            state.commands.append(.add(transfer))
            curl_multi_wakeup(multi.pointer)
            return true
        }
    }

    /// Aborts `transfer` promptly with `CancellationError`. Callable from any thread, at any time: before it
    /// was submitted, while it runs, or after it finished (then it does nothing).
    func cancel(_ transfer: CurlTransfer) {
        transfer.requestCancellation()
        shared.withLock { state in
            guard let multi = state.multi else { return }
            state.commands.append(.cancel(transfer))
            curl_multi_wakeup(multi.pointer)
        }
    }

    /// Aborts every transfer with ``HTTPClientError/cancelled``, refuses new ones, and lets the thread exit.
    /// Idempotent; never blocks.
    func shutdown() {
        shared.withLock { state in
            state.isShutdown = true
            if let multi = state.multi { curl_multi_wakeup(multi.pointer) }
        }
    }

    /// Lets the thread exit once no transfer is left (when the owning client is deinitialized). Transfers still
    /// running, such as open body streams, go on until they finish.
    func exitWhenIdle() {
        shared.withLock { state in
            state.exitWhenIdle = true
            if let multi = state.multi { curl_multi_wakeup(multi.pointer) }
        }
    }

    // MARK: The loop thread

    /// The loop thread's body. All state it keeps in locals is confined to this thread.
    private func run(_ handle: MultiHandle) {
        let multi = handle.pointer
        var active: [OpaquePointer: CurlTransfer] = [:]

        while true {
            let (commands, isShutdown, exitWhenIdle) = shared.withLock { state in
                defer { state.commands.removeAll() }
                return (state.commands, state.isShutdown, state.exitWhenIdle)
            }

            if isShutdown {
                for command in commands {
                    if case .add(let transfer) = command { transfer.fail(HTTPClientError.cancelled) }
                }
                for (easy, transfer) in active {
                    curl_multi_remove_handle(multi, easy)
                    transfer.fail(transfer.isCancellationRequested ? CancellationError() : HTTPClientError.cancelled)
                }
                active.removeAll()
                break
            }

            for command in commands {
                switch command {
                case .add(let transfer):
                    if transfer.isCancellationRequested {
                        transfer.fail(CancellationError())
                        continue
                    }
                    let code = curl_multi_add_handle(multi, transfer.easy)
                    guard code == CURLM_OK else {
                        transfer.fail(HTTPClientError.other(Int32(CURLE_FAILED_INIT.rawValue)))
                        continue
                    }
                    active[transfer.easy] = transfer
                case .cancel(let transfer):
                    // Unknown means finished already, or refused at `add` because the flag was set.
                    guard active.removeValue(forKey: transfer.easy) != nil else { continue }
                    curl_multi_remove_handle(multi, transfer.easy)
                    transfer.fail(CancellationError())
                }
            }

            if exitWhenIdle && active.isEmpty {
                let lateCommands = shared.withLock { state in
                    state.isShutdown = true
                    defer { state.commands.removeAll() }
                    return state.commands
                }
                for command in lateCommands {
                    if case .add(let transfer) = command { transfer.fail(HTTPClientError.cancelled) }
                }
                break
            }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = ccurl_msg_result(message)
                guard let transfer = active.removeValue(forKey: easy) else { continue }
                curl_multi_remove_handle(multi, easy)
                transfer.complete(code: code)
            }

            let waitMillis = expireHeadDeadlines(in: &active, multi: multi)
            curl_multi_poll(multi, nil, 0, waitMillis, nil)
        }

        shared.withLock { state in
            state.multi = nil
            state.isShutdown = true
        }
        curl_multi_cleanup(multi)
    }

    /// Fails streaming transfers whose head did not arrive within their deadline, and returns how long the loop
    /// may sleep before the next such deadline (at most one second; libcurl shortens it for its own timers).
    private func expireHeadDeadlines(in active: inout [OpaquePointer: CurlTransfer], multi: OpaquePointer) -> Int32 {
        let now = ContinuousClock.now
        var sleep = Duration.seconds(1)
        var expired: [OpaquePointer] = []
        for (easy, transfer) in active {
            guard let deadline = transfer.headDeadline, case .streamingHead = transfer.delivery else { continue }
            if deadline <= now {
                expired.append(easy)
            } else {
                sleep = min(sleep, now.duration(to: deadline))
            }
        }
        for easy in expired {
            guard let transfer = active.removeValue(forKey: easy) else { continue }
            curl_multi_remove_handle(multi, easy)
            transfer.fail(HTTPClientError.timedOut.with(code: 28, detail: "no response head within the timeout"))
        }
        return Int32(sleep.curlMilliseconds)
    }
}
