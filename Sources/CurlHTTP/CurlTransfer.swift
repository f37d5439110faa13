import CCurl
import Foundation
import Synchronization

/// One exchange in flight: its easy handle and what has come back so far.
///
/// `@unchecked Sendable`: after it is handed to the loop, every mutable field is touched only on the loop's thread
/// (callbacks run there too); the one field other threads touch, `cancelled`, is behind a `Mutex`.
final class CurlTransfer: @unchecked Sendable {
    enum Mode {
        /// Collect the whole body, then resume `continuation`.
        case collect(CheckedContinuation<HTTPResponse, any Error>)
        /// Resume `head` with status and headers as soon as the final head is in, then stream the body.
        case stream(head: CheckedContinuation<HTTPStreamingResponse, any Error>?)
    }

    let request: HTTPRequest
    var mode: Mode
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    var status = 0
    var headers: [HTTPHeader] = []
    var body = Data()
    var tooLarge = false
    var finished = false
    /// For streams: the consumer's side, set when the head is delivered.
    var streamContinuation: AsyncThrowingStream<Data, any Error>.Continuation?
    /// Set from any thread when the caller's task is cancelled or the stream's consumer went away.
    let cancelled = Mutex(false)

    init(request: HTTPRequest, mode: Mode) {
        self.request = request
        self.mode = mode
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        errorBuffer.deallocate()
    }

    var isCancelled: Bool { cancelled.withLock { $0 } }

    /// Configures a new easy handle for the request. Returns `false` if libcurl refused an option.
    func makeHandle() -> Bool {
        guard let easy = curl_easy_init() else { return false }
        self.easy = easy
        let request = self.request
        var ok = true
        func set(_ option: CURLoption, _ value: Int) { ok = ok && ccurl_setopt_long(easy, option, value) == CURLE_OK }
        func set(_ option: CURLoption, _ value: String) {
            ok = ok && ccurl_setopt_string(easy, option, value) == CURLE_OK
        }
        set(CURLOPT_URL, request.url)
        set(CURLOPT_NOSIGNAL, 1)
        ok = ok && ccurl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer) == CURLE_OK
        set(CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0)
        ok = ok && ccurl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
        let timeout = Self.milliseconds(request.timeout)
        let connect = Self.milliseconds(request.connectTimeout ?? request.timeout)
        if case .stream = mode {
            // A stream may stay open indefinitely, but not silently: under 1 byte/s for 60 s means a dead peer.
            set(CURLOPT_CONNECTTIMEOUT_MS, connect)
            set(CURLOPT_LOW_SPEED_LIMIT, 1)
            set(CURLOPT_LOW_SPEED_TIME, 60)
        } else {
            set(CURLOPT_TIMEOUT_MS, max(1, timeout))
            set(CURLOPT_CONNECTTIMEOUT_MS, max(1, min(connect, timeout)))
        }
        if let socket = request.unixSocketPath { set(CURLOPT_UNIX_SOCKET_PATH, socket) }
        if let caFile = request.caFile { set(CURLOPT_CAINFO, caFile) }
        switch request.method.uppercased() {
        case "GET": set(CURLOPT_HTTPGET, 1)
        case "HEAD": set(CURLOPT_NOBODY, 1)
        case "POST": set(CURLOPT_POST, 1)
        case let method: set(CURLOPT_CUSTOMREQUEST, method)
        }
        if let body = request.body {
            ok = ok && ccurl_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)) == CURLE_OK
            body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies the bytes, so the Data need not outlive this call.
                ok = ok && ccurl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)) == CURLE_OK
            }
        }
        // No "Expect: 100-continue" round trip; the caller's headers after ours.
        var list = curl_slist_append(nil, "Expect:")
        for header in request.headers { list = curl_slist_append(list, "\(header.name): \(header.value)") }
        headerList = list
        ok = ok && ccurl_setopt_pointer(easy, CURLOPT_HTTPHEADER, list) == CURLE_OK
        let me = Unmanaged.passUnretained(self).toOpaque()
        ok = ok && ccurl_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteCallback) == CURLE_OK
        ok = ok && ccurl_setopt_pointer(easy, CURLOPT_WRITEDATA, me) == CURLE_OK
        ok = ok && ccurl_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback) == CURLE_OK
        ok = ok && ccurl_setopt_pointer(easy, CURLOPT_HEADERDATA, me) == CURLE_OK
        return ok
    }

    /// Frees the handle and the header list (loop thread, after removal from the multi handle).
    func release() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
    }

    /// libcurl's error buffer text.
    var curlDetail: String { String(cString: errorBuffer) }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let total = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return Int(min(max(total.rounded(.up), 0), Double(Int32.max)))
    }

    // MARK: - Callbacks (loop thread)

    func received(_ chunk: UnsafeRawBufferPointer) -> Bool {
        if isCancelled { return false }
        switch mode {
        case .collect:
            if body.count + chunk.count > request.maxResponseBytes {
                tooLarge = true
                return false
            }
            body.append(contentsOf: chunk)
        case .stream:
            deliverHead()
            streamContinuation?.yield(Data(chunk))
        }
        return true
    }

    func receivedHeaderLine(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            // A new response head (after a 1xx, or a redirect when following): start over.
            headers = []
            let parts = trimmed.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        } else if trimmed.isEmpty {
            if status >= 200, case .stream = mode, !(request.followRedirects && (300..<400).contains(status)) {
                deliverHead()
            }
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = String(trimmed[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            headers.append(HTTPHeader(name, value))
        }
    }

    /// Streams: hands status, headers and the body stream to the caller, once.
    func deliverHead() {
        guard case .stream(let head?) = mode else { return }
        mode = .stream(head: nil)
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        streamContinuation = continuation
        continuation.onTermination = { [weak self] _ in
            // The consumer stopped: abort the transfer at the next callback.
            self?.cancelled.withLock { $0 = true }
        }
        head.resume(returning: HTTPStreamingResponse(status: status, headers: headers, body: stream))
    }

    /// Ends the transfer with libcurl's result; resumes whoever waits, exactly once.
    func complete(curlCode: Int32) {
        guard !finished else { return }
        finished = true
        let error: (any Error)? =
            if curlCode == 0 { nil }
            else if isCancelled { CancellationError() }
            else if tooLarge { HTTPClientError.responseTooLarge }
            else { HTTPClientError.from(curlCode: curlCode, detail: curlDetail) }
        switch mode {
        case .collect(let continuation):
            if let error {
                continuation.resume(throwing: error)
            } else {
                continuation.resume(returning: HTTPResponse(status: status, headers: headers, body: body))
            }
        case .stream(let head):
            if let head {
                // Finished before any body byte: a head-only or empty answer, or a failure before the head.
                if let error {
                    head.resume(throwing: error)
                    return
                }
                deliverHead()
            }
            if let error, !(error is CancellationError) {
                streamContinuation?.finish(throwing: error)
            } else {
                streamContinuation?.finish()
            }
        }
    }

    /// Ends a transfer that never reached libcurl (cancelled before it started, or the client is shut down).
    func fail(_ error: any Error) {
        guard !finished else { return }
        finished = true
        switch mode {
        case .collect(let continuation): continuation.resume(throwing: error)
        case .stream(let head):
            if let head { head.resume(throwing: error) } else { streamContinuation?.finish(throwing: error) }
        }
    }
}

private let curlWriteCallback: ccurl_data_callback = { data, size, count, user in
    guard let user, let data else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    let length = size * count
    return transfer.received(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private let curlHeaderCallback: ccurl_data_callback = { data, size, count, user in
    guard let user, let data else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    let length = size * count
    if transfer.isCancelled { return 0 }
    transfer.receivedHeaderLine(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
    return length
}
