import Testing

@testable import CurlHTTP

/// The mapping from libcurl codes to ``HTTPClientError`` and its descriptions, without any network.
@Suite("HTTPClientError")
struct HTTPClientErrorTests {
    @Test(
        "CURLcodes map to their kinds",
        arguments: [
            (Int32(28), HTTPClientError.timedOut),
            (7, .couldNotConnect),
            (6, .couldNotResolveHost),
            (35, .tlsFailure),
            (60, .tlsFailure),
            (77, .tlsFailure),
            (52, .connectionReset),
            (55, .connectionReset),
            (56, .connectionReset),
            (18, .connectionReset),
            (63, .responseTooLarge),
            (3, .invalidRequest),
            (1, .invalidRequest),
            (23, .other(23)),
            (42, .other(42)),
        ]
    )
    func mapping(code: Int32, expected: HTTPClientError) {
        let error = HTTPClientError.fromCurl(code, detail: "some text", exceededSizeLimit: false)
        #expect(error == expected)
        #expect(error.curlCode == code)
        #expect(error.description.contains("curl error \(code): some text"))
    }

    @Test("a write error caused by the size limit is .responseTooLarge")
    func sizeLimit() {
        #expect(HTTPClientError.fromCurl(23, detail: nil, exceededSizeLimit: true) == .responseTooLarge)
    }

    @Test("equality ignores the detail text; .other compares codes")
    func equality() {
        #expect(HTTPClientError.fromCurl(28, detail: "a", exceededSizeLimit: false) == .timedOut)
        #expect(HTTPClientError.other(99) == .other(99))
        #expect(HTTPClientError.other(99) != .other(98))
        #expect(HTTPClientError.timedOut != .couldNotConnect)
        #expect(Set([HTTPClientError.timedOut, .fromCurl(28, detail: "x", exceededSizeLimit: false)]).count == 1)
    }

    @Test("short descriptions are bounded labels")
    func shortDescriptions() {
        let all: [HTTPClientError] = [
            .timedOut, .couldNotConnect, .couldNotResolveHost, .tlsFailure, .connectionReset, .responseTooLarge,
            .invalidRequest, .cancelled, .other(12),
        ]
        let labels = all.map(\.shortDescription)
        #expect(Set(labels).count == all.count)
        #expect(labels.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" } })
        #expect(HTTPClientError.other(1).shortDescription == HTTPClientError.other(2).shortDescription)
    }

    @Test("static members carry no code; .other does")
    func codes() {
        #expect(HTTPClientError.timedOut.curlCode == nil)
        #expect(HTTPClientError.other(47).curlCode == 47)
        #expect(HTTPClientError.timedOut.description == "The HTTP request timed out")
        #expect(HTTPClientError.timedOut.detail == nil)
        #expect(HTTPClientError.fromCurl(7, detail: "refused", exceededSizeLimit: false).detail == "refused")
    }

    @Test("durations convert to whole milliseconds, rounded up, at least 1")
    func milliseconds() {
        #expect(Duration.milliseconds(300).curlMilliseconds == 300)
        #expect(Duration.seconds(30).curlMilliseconds == 30_000)
        #expect(Duration.microseconds(1500).curlMilliseconds == 2)
        #expect(Duration.zero.curlMilliseconds == 1)
        #expect(Duration.milliseconds(-5).curlMilliseconds == 1)
        #expect(Duration.seconds(Int64.max).curlMilliseconds == Int.max)
    }

    @Test("the linked libcurl reports its version")
    func libcurlVersion() {
        let parts = CurlHTTPClient.libcurlVersion.split(separator: ".")
        #expect(parts.count >= 2)
        #expect(parts.allSatisfy { Int($0) != nil })
    }
}
