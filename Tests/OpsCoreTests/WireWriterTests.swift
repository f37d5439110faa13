import Foundation
import OpsCore
import OpsProtocol
import Testing

/// The socket's job, list and event answers are written by hand; `JobView`'s `Codable` is what clients decode, so the
/// two must agree byte for byte, with every optional present and absent.
@Suite struct WireWriterTests {
    static func written(_ value: some CanonicalJSONWritable) -> [UInt8] {
        var writer = CanonicalJSONWriter()
        value.write(to: &writer)
        return writer.bytes
    }

    static func encoded(_ value: some Encodable) throws -> [UInt8] { Array(try WireJSON.encoder().encode(value)) }

    static func maybe<T>(_ rng: inout SplitMix64, _ make: (inout SplitMix64) -> T) -> T? {
        Bool.random(using: &rng) ? make(&rng) : nil
    }

    static func date(_ rng: inout SplitMix64) -> Date {
        Date(timeIntervalSince1970: Double(Int64.random(in: 0...4_102_444_800_000, using: &rng)) / 1000)
    }

    static func text(_ rng: inout SplitMix64) -> String { CanonicalJSONWriterTests.randomString(&rng) }

    static func event(_ rng: inout SplitMix64) -> EventView {
        EventView(
            seq: Int64.random(in: 1...Int64.max, using: &rng),
            at: date(&rng),
            jobID: Int64.random(in: 1...1_000_000, using: &rng),
            kind: text(&rng),
            from: maybe(&rng, text),
            to: text(&rng),
            attempt: Int.random(in: 1...9, using: &rng),
            operationID: maybe(&rng, text),
            message: maybe(&rng, text)
        )
    }

    static func job(_ rng: inout SplitMix64) -> JobView {
        func members(_ rng: inout SplitMix64) -> [String: JSONValue] {
            CanonicalJSONWriterTests.randomValue(&rng, depth: 2).objectValue ?? ["k": .string(text(&rng))]
        }
        var view = JobView(
            id: Int64.random(in: 1...Int64.max, using: &rng),
            kind: text(&rng),
            state: text(&rng),
            params: members(&rng),
            note: maybe(&rng, text),
            target: text(&rng),
            attempt: Int.random(in: 1...9, using: &rng),
            operationID: maybe(&rng, text),
            result: maybe(&rng) { CanonicalJSONWriterTests.randomValue(&$0, depth: 1) },
            lastError: maybe(&rng, text),
            pollCount: Int.random(in: 0...500, using: &rng),
            pendingAction: maybe(&rng, text),
            nextActionAt: maybe(&rng, date),
            acceptedAt: maybe(&rng, date),
            deadline: maybe(&rng, date),
            createdAt: date(&rng),
            updatedAt: date(&rng),
            finishedAt: maybe(&rng, date),
            submittedBy: maybe(&rng) {
                PeerView(
                    uid: UInt32.random(in: 0...UInt32.max, using: &$0),
                    gid: UInt32.random(in: 0...UInt32.max, using: &$0),
                    pid: Int32.random(in: 1...Int32.max, using: &$0)
                )
            },
            events: maybe(&rng) { rng in (0..<Int.random(in: 0...3, using: &rng)).map { _ in event(&rng) } }
        )
        view.outputs = maybe(&rng, members)
        view.targets = maybe(&rng) { rng in (0..<Int.random(in: 0...3, using: &rng)).map { _ in text(&rng) } }
        view.waitingBehind = maybe(&rng) { Int64.random(in: 1...Int64.max, using: &$0) }
        view.waitingOn = maybe(&rng, text)
        view.priority = maybe(&rng) { Int.random(in: -10...10, using: &$0) }
        view.after = maybe(&rng) { rng in
            (0..<Int.random(in: 0...3, using: &rng)).map { _ in Int64.random(in: 1...999, using: &rng) }
        }
        return view
    }

    @Test func jobsListsAndEventsAreWrittenAsJSONEncoderWritesThem() throws {
        var rng = SplitMix64(seed: 18)
        for _ in 0..<500 {
            let job = Self.job(&rng)
            #expect(Self.written(job) == (try Self.encoded(job)))
            let event = Self.event(&rng)
            #expect(Self.written(event) == (try Self.encoded(event)))
            let list = JobListView(
                jobs: (0..<Int.random(in: 0...3, using: &rng)).map { _ in Self.job(&rng) },
                nextBefore: Self.maybe(&rng) { Int64.random(in: 1...Int64.max, using: &$0) }
            )
            #expect(Self.written(list) == (try Self.encoded(list)))
        }
    }
}
