import CCurl
import Foundation
import Synchronization

/// One libcurl easy handle for one request, plus everything its callbacks collect and the continuation that
/// receives the outcome.
///
/// Ownership moves in one direction: the calling task creates and configures the transfer, sets ``delivery``, and
/// hands it to ``CurlMultiLoop/submit(_:)``. From then on only the loop thread touches its mutable state (libcurl
/// calls the callbacks from `curl_multi_perform` on that thread). The one exception is ``requestCancellation()``,
/// which other threads may call at any time and which only flips an atomic flag.
///
/// `@unchecked Sendable` is justified by that hand-over: the mutex inside ``CurlMultiLoop`` orders the caller's
/// writes before the loop thread's reads, and no two threads ever use the mutable state concurrently.
final class CurlTransfer: @unchecked Sendable {
    /// Where the outcome goes; moves forward only (`pending` → … → `done`).
    enum Delivery {
        /// Not yet handed over: nothing to deliver to.
        case pending
        /// A buffered request waiting for the whole response.
        case buffered(CheckedContinuation<HTTPResponse, any Error>)
        /// A streaming request waiting for its head; `stream` is handed out with the head.
        case streamingHead(
            CheckedContinuation<HTTPStreamingResponse, any Error>,
            stream: AsyncThrowingStream<Data, any Error>,
            body: AsyncThrowingStream<Data, any Error>.Continuation
        )
        /// A streaming request whose head was delivered and whose body is flowing.
        case streamingBody(AsyncThrowingStream<Data, any Error>.Continuation)
        /// The outcome was delivered.
        case done
    }

    /// The easy handle; valid until deinit. Also the key under which the loop tracks this transfer.
    let easy: OpaquePointer
    /// Whether the body is streamed (``HTTPStreamingResponse``) rather than buffered.
    let isStreaming: Bool
    /// For streaming requests, when the head must have arrived (``HTTPRequest/timeout``); `nil` for buffered ones,
    /// whose total deadline libcurl enforces itself.
    let headDeadline: ContinuousClock.Instant?
    /// Set by any thread to ask for the transfer to be aborted with `CancellationError`.
    private let cancelFlag = Atomic<Bool>(false)

    /// Where the outcome goes. Set by the caller before submission, then used by the loop thread only.
    var delivery: Delivery = .pending

    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let errorBufferSize: Int
    private let maxResponseBytes: Int
    private let followRedirects: Bool
    private let urlQuery: Substring?
    private var headers: [HTTPHeader] = []
    private var headComplete = false
    private var body = Data()
    private var exceededSizeLimit = false

    /// Creates the easy handle and sets every option for `request`.
    ///
    /// - Parameters:
    ///   - request: An already validated request (see ``HTTPRequest/validate()``).
    ///   - streaming: Whether the body will be streamed.
    /// - Throws: ``HTTPClientError`` if libcurl refuses an option.
    init(request: HTTPRequest, streaming: Bool) throws(HTTPClientError) {
        guard let easy = curl_easy_init() else { throw .other(Int32(CURLE_FAILED_INIT.rawValue)) }
        self.easy = easy
        self.isStreaming = streaming
        self.headDeadline = streaming ? ContinuousClock.now.advanced(by: request.timeout) : nil
        self.errorBufferSize = Int(ccurl_error_size())
        self.errorBuffer = .allocate(capacity: errorBufferSize)
        self.errorBuffer.initialize(repeating: 0, count: errorBufferSize)
        self.maxResponseBytes = request.maxResponseBytes
        self.followRedirects = request.followRedirects
        if let queryStart = request.url.firstIndex(of: "?") {
            let query = request.url[request.url.index(after: queryStart)...].prefix { $0 != "#" }
            self.urlQuery = query.isEmpty ? nil : query
        } else {
            self.urlQuery = nil
        }
        try configure(request)
    }

    deinit {
        // The loop removes the handle from the multi handle before it lets go of the transfer, so cleaning up
        // here, on whichever thread drops the last reference, is safe.
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    // MARK: Cancellation (any thread)

    /// Marks the transfer as cancelled by its task. The loop checks this when adding and completing it.
    func requestCancellation() {
        cancelFlag.store(true, ordering: .sequentiallyConsistent)
    }

    /// Whether ``requestCancellation()`` was called.
    var isCancellationRequested: Bool {
        cancelFlag.load(ordering: .sequentiallyConsistent)
    }

    // MARK: Options

    private func configure(_ request: HTTPRequest) throws(HTTPClientError) {
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        try check(ccurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(ccurl_setopt_str(easy, CURLOPT_URL, request.url))
        // The path goes out as the caller built it: libcurl would otherwise fold `.` and `..` segments (and their
        // `%2E` spellings) and so send a request to a path the caller never named.
        try check(ccurl_setopt_long(easy, CURLOPT_PATH_AS_IS, 1))
        try check(ccurl_setopt_str(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        try check(ccurl_setopt_str(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
        try check(ccurl_setopt_long(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1))
        try check(ccurl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))

        // Callbacks: plain C function pointers; the transfer is found again through the userdata pointer. The loop
        // keeps the transfer alive while libcurl may call them.
        try check(
            ccurl_setopt_write_callback(easy) { buffer, size, count, userdata in
                guard let userdata else { return 0 }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
                return transfer.didReceiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count))
            }
        )
        try check(ccurl_setopt_ptr(easy, CURLOPT_WRITEDATA, userdata))
        try check(
            ccurl_setopt_header_callback(easy) { buffer, size, count, userdata in
                guard let userdata else { return 0 }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
                return transfer.didReceiveHeaderLine(UnsafeRawBufferPointer(start: buffer, count: size * count))
            }
        )
        try check(ccurl_setopt_ptr(easy, CURLOPT_HEADERDATA, userdata))

        // Deadlines. A streamed body may stay open indefinitely, so there the loop enforces `timeout` on the
        // head only, and libcurl only the connect phase.
        let totalMillis = request.timeout.curlMilliseconds
        let connectMillis = min(request.connectTimeout?.curlMilliseconds ?? totalMillis, totalMillis)
        try check(ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, connectMillis))
        if !isStreaming {
            try check(ccurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, totalMillis))
            try check(ccurl_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxResponseBytes)))
        }

        if let path = request.unixSocketPath {
            try check(ccurl_setopt_str(easy, CURLOPT_UNIX_SOCKET_PATH, path))
            try check(ccurl_setopt_str(easy, CURLOPT_NOPROXY, "*"))
        }
        if let caFile = request.caFile {
            try check(ccurl_setopt_str(easy, CURLOPT_CAINFO, caFile))
        }
        if request.followRedirects {
            try check(ccurl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1))
            try check(ccurl_setopt_long(easy, CURLOPT_MAXREDIRS, 10))
        } else {
            try check(ccurl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        }

        let sendsBody = try configureMethod(request)
        try configureHeaders(request, sendsBody: sendsBody)
    }

    /// Sets the method and body options; returns whether a request body is sent.
    private func configureMethod(_ request: HTTPRequest) throws(HTTPClientError) -> Bool {
        switch request.method {
        case "HEAD":
            try check(ccurl_setopt_long(easy, CURLOPT_NOBODY, 1))
            return false
        case "GET" where request.body == nil:
            try check(ccurl_setopt_long(easy, CURLOPT_HTTPGET, 1))
            return false
        default:
            var sendsBody = false
            if request.body != nil || ["POST", "PUT", "PATCH"].contains(request.method) {
                // COPYPOSTFIELDS copies the bytes, so the Data need not outlive this call; the size goes first so
                // that bodies containing NUL bytes are sent whole.
                let body = request.body ?? Data()
                try check(ccurl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                let code = body.withUnsafeBytes { bytes in
                    if let base = bytes.baseAddress, bytes.count > 0 {
                        return ccurl_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                    }
                    return ccurl_setopt_str(easy, CURLOPT_COPYPOSTFIELDS, "")
                }
                try check(code)
                sendsBody = true
            }
            if request.method != "POST" {
                try check(ccurl_setopt_str(easy, CURLOPT_CUSTOMREQUEST, request.method))
            }
            return sendsBody
        }
    }

    /// Builds the header list: the caller's headers, plus overrides of libcurl's defaults that we never want.
    private func configureHeaders(_ request: HTTPRequest, sendsBody: Bool) throws(HTTPClientError) {
        var lines: [String] = []
        for header in request.headers {
            // "Name;" is libcurl's syntax for a header with an empty value ("Name:" would remove it).
            lines.append(header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)")
        }
        if sendsBody {
            let names = Set(request.headers.map { $0.name.lowercased() })
            // No "Expect: 100-continue" round trip.
            if !names.contains("expect") { lines.append("Expect:") }
            // No made-up "application/x-www-form-urlencoded" when the caller set no type.
            if !names.contains("content-type") { lines.append("Content-Type:") }
        }
        for line in lines {
            guard let list = curl_slist_append(headerList, line) else {
                throw .other(Int32(CURLE_OUT_OF_MEMORY.rawValue))
            }
            headerList = list
        }
        if let headerList {
            try check(ccurl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList))
        }
    }

    private func check(_ code: CURLcode) throws(HTTPClientError) {
        guard code != CURLE_OK else { return }
        throw HTTPClientError.fromCurl(Int32(code.rawValue), detail: errorText(), exceededSizeLimit: false)
    }

    // MARK: Callbacks (loop thread)

    /// Header callback: one raw header line, the status line and the blank line that ends a head included.
    private func didReceiveHeaderLine(_ bytes: UnsafeRawBufferPointer) -> Int {
        // Strip the line ending bytewise: as Characters, "\r\n" is one grapheme that is neither "\r" nor "\n".
        var length = bytes.count
        while length > 0, bytes[length - 1] == 0x0D || bytes[length - 1] == 0x0A { length -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<length]), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new head (interim 1xx, redirect, or final): forget what the previous one said.
            headers.removeAll(keepingCapacity: true)
            headComplete = false
        } else if line.isEmpty {
            if !headComplete && isFinalHead() {
                headComplete = true
                if isStreaming { deliverHead() }
            }
        } else if headComplete {
            // Trailers after a chunked body; not part of the head.
        } else if let first = line.first, first == " " || first == "\t", !headers.isEmpty {
            // Obsolete line folding: continues the previous value.
            headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append(HTTPHeader(name, value))
        }
        return bytes.count
    }

    /// Body callback: buffers or streams a chunk. Returning less than `bytes.count` makes libcurl abort with
    /// `CURLE_WRITE_ERROR`.
    private func didReceiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        if isStreaming {
            if case .streamingHead = delivery { deliverHead() }
            if case .streamingBody(let continuation) = delivery, !bytes.isEmpty {
                continuation.yield(Data(bytes))
            }
            return bytes.count
        }
        guard body.count + bytes.count <= maxResponseBytes else {
            exceededSizeLimit = true
            return 0
        }
        body.append(contentsOf: bytes)
        return bytes.count
    }

    /// Whether the head just ended is the final one: not an interim `1xx`, and not a redirect libcurl will follow.
    private func isFinalHead() -> Bool {
        let status = responseCode()
        if status < 200 { return false }
        if followRedirects, [301, 302, 303, 307, 308].contains(status), headers.firstValue(named: "location") != nil {
            return false
        }
        return true
    }

    private func responseCode() -> Int {
        var status = 0
        _ = ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return status
    }

    // MARK: Completion (loop thread, or the caller before submission)

    /// Hands a streaming request's head to its caller; the body keeps flowing into the stream.
    private func deliverHead() {
        guard case .streamingHead(let continuation, let stream, let body) = delivery else { return }
        delivery = .streamingBody(body)
        continuation.resume(returning: HTTPStreamingResponse(status: responseCode(), headers: headers, body: stream))
    }

    /// Delivers the outcome of a transfer libcurl finished with `code`.
    func complete(code: CURLcode) {
        guard code == CURLE_OK else {
            if isCancellationRequested {
                fail(CancellationError())
            } else {
                let error = HTTPClientError.fromCurl(
                    Int32(code.rawValue),
                    detail: errorText(),
                    exceededSizeLimit: exceededSizeLimit
                )
                fail(error)
            }
            return
        }
        switch delivery {
        case .buffered(let continuation):
            delivery = .done
            continuation.resume(returning: HTTPResponse(status: responseCode(), headers: headers, body: body))
        case .streamingHead:
            deliverHead()
            complete(code: code)
        case .streamingBody(let continuation):
            delivery = .done
            continuation.finish()
        case .pending, .done:
            break
        }
    }

    /// Delivers a failure: to the waiting caller, or to the body stream if the head was already delivered.
    func fail(_ error: any Error) {
        switch delivery {
        case .buffered(let continuation):
            continuation.resume(throwing: error)
        case .streamingHead(let continuation, _, let body):
            body.finish(throwing: error)
            continuation.resume(throwing: error)
        case .streamingBody(let continuation):
            continuation.finish(throwing: error)
        case .pending, .done:
            break
        }
        delivery = .done
    }

    /// libcurl's error buffer text, with the URL's query (which may hold secrets) cut out.
    private func errorText() -> String? {
        let text = String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        guard let urlQuery else { return text }
        return text.replacingOccurrences(of: String(urlQuery), with: "[redacted]")
    }
}
