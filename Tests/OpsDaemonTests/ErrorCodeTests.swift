import Foundation
import OpsProtocol
import Testing

@Suite struct ErrorCodeTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func source(_ path: String) throws -> String {
        try String(contentsOf: repo.appendingPathComponent(path), encoding: .utf8)
    }

    @Test(arguments: ErrorCode.allCases)
    func everyCodeRoundTripsOnTheWire(_ code: ErrorCode) throws {
        let view = ErrorView(code: code, message: "m", field: "f")
        let data = try WireJSON.encoder().encode(view)
        #expect(String(decoding: data, as: UTF8.self).contains(#""code":"\#(code.rawValue)""#))
        let back = try WireJSON.decoder().decode(ErrorView.self, from: data)
        #expect(back == view)
        #expect(back.error.code == code.rawValue)
        #expect(back.error.knownCode == code)
        #expect(try WireJSON.decoder().decode(ErrorCode.self, from: WireJSON.encoder().encode(code)) == code)
    }

    @Test func aCodeOfANewerDaemonStillDecodes() throws {
        let body = Data(#"{"error":{"code":"rate_limited","message":"slow down"}}"#.utf8)
        let view = try WireJSON.decoder().decode(ErrorView.self, from: body)
        #expect(view.error.code == "rate_limited")
        #expect(view.error.knownCode == nil)
        #expect(view.error.message == "slow down")
    }

    /// The wire doc comment on `ErrorView.Body.code` lists exactly the codes of `ErrorCode`.
    @Test func theWireDocListsEveryCode() throws {
        let wire = try Self.source("Sources/OpsProtocol/Wire.swift")
        let lines = wire.components(separatedBy: "\n")
        guard let end = lines.firstIndex(where: { $0.contains("public var code: String") }) else {
            Issue.record("no `code` in ErrorView.Body")
            return
        }
        var start = end
        while start > 0, lines[start - 1].trimmingCharacters(in: .whitespaces).hasPrefix("///") { start -= 1 }
        let doc = lines[start..<end].joined(separator: " ")
        let listed = Self.backticked(doc).filter { !$0.isEmpty && $0.allSatisfy { $0 == "_" || $0.isLowercase } }
        #expect(Set(listed) == Set(ErrorCode.allCases.map(\.rawValue)))
        #expect(listed.count == ErrorCode.allCases.count, "a code is listed twice: \(listed)")
    }

    /// Every case says when it is sent.
    @Test func everyCaseHasADocComment() throws {
        let lines = try Self.source("Sources/OpsProtocol/ErrorCode.swift").components(separatedBy: "\n")
        var documented = 0
        for (index, line) in lines.enumerated() where line.trimmingCharacters(in: .whitespaces).hasPrefix("case ") {
            #expect(
                index > 0 && lines[index - 1].trimmingCharacters(in: .whitespaces).hasPrefix("///"),
                "undocumented: \(line)"
            )
            documented += 1
        }
        #expect(documented == ErrorCode.allCases.count)
    }

    static func backticked(_ text: String) -> [String] {
        text.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
    }
}
