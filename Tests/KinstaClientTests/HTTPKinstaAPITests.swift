import CurlHTTP
import Foundation
import KinstaClient
import KinstaSimulator
import Logging
import OpsCore
import Synchronization
import Testing

/// Time for the simulator that moves only when told.
final class SimTime: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: Double) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// The real client over HTTP against the simulator in-process on a random loopback port, time moved by hand.
@Suite struct HTTPKinstaAPITests {
    static let configuration = SimulatorConfiguration(
        apiKey: "test-key",
        startupWindowMax: 10,
        durationScale: 1,
        failureRate: 0,
        seed: 3,
        seedSites: 2
    )

    func withAPI<T: Sendable>(
        key: String = "test-key",
        failureRate: Double = 0,
        _ body: @escaping @Sendable (HTTPKinstaAPI, KinstaSimulator, SimTime) async throws -> T
    ) async throws -> T {
        let time = SimTime()
        var configuration = Self.configuration
        configuration.failureRate = failureRate
        let simulator = KinstaSimulator(configuration: configuration, now: { time.now })
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        return try await withRunningSimulator(simulator) { base in
            let api = HTTPKinstaAPI(
                configuration: KinstaConfiguration(baseURL: base + "/", apiKey: key, requestTimeout: .seconds(5)),
                http: http,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            return try await body(api, simulator, time)
        }
    }

    static func plainCall(_ name: String) throws -> KinstaCall {
        try ValidatedParams(
            kind: .siteCreatePlain,
            raw: ["display_name": .string(name), "region": "us-central1"],
            defaultCompany: configuration.companyID
        ).submitCall(job: 1, attempt: 1)
    }

    @Test func operationGoesFromNotVisibleToRunningToFinished() async throws {
        try await withAPI { api, simulator, time in
            // When a plain site is submitted
            guard case .accepted(let id) = await api.submit(try Self.plainCall("Client A")) else {
                Issue.record("not accepted")
                return
            }
            #expect(id.hasPrefix("sites:add-plain-"))
            let operation = try #require(simulator.operations().first)
            // Then it is 404 before its window ends, 202 while it runs, 200 with the new site's ID at the end
            if operation.visibleAt > time.now { #expect(await api.operationStatus(id) == .notFound) }
            time.advance(operation.visibleAt.timeIntervalSince(time.now) + 0.001)
            #expect(await api.operationStatus(id) == .inProgress)
            time.advance(operation.doneAt.timeIntervalSince(time.now) + 0.001)
            guard case .finished(let data) = await api.operationStatus(id), let siteID = data?["idSite"]?.stringValue
            else {
                Issue.record("not finished with idSite")
                return
            }
            // And the site is in the list, found by its display name
            guard case .ok(let list) = await api.read("/sites?company=\(Self.configuration.companyID)") else {
                Issue.record("list failed")
                return
            }
            let names =
                list["company"]?["sites"].flatMap { value -> [String]? in
                    if case .array(let sites) = value { return sites.compactMap { $0["display_name"]?.stringValue } }
                    return nil
                } ?? []
            #expect(names.contains("Client A"))
            #expect(await api.read("/sites/\(siteID)") != .notFound(message: "Site not found"))
            // And the operation ID went over the wire with its ':' as it is, as every public client sends it
            #expect(simulator.requestLog().contains { $0.path.contains("/operations/sites:add-plain-") })
        }
    }

    @Test func failedOperationIs500WithKinstasMessage() async throws {
        try await withAPI(failureRate: 1) { api, simulator, time in
            guard case .accepted(let id) = await api.submit(try Self.plainCall("Doomed")) else {
                Issue.record("not accepted")
                return
            }
            time.advance(10_000)
            guard case .failed(let message) = await api.operationStatus(id) else {
                Issue.record("not failed")
                return
            }
            #expect(!message.isEmpty)
        }
    }

    @Test func refusalsAreValues() async throws {
        try await withAPI { api, _, _ in
            // A missing required field is Kinsta's 400
            let bad = KinstaCall(method: "POST", path: "/sites/plain", body: ["display_name": "x"])
            guard case .rejected(400, _) = await api.submit(bad) else {
                Issue.record("expected 400")
                return
            }
            // Deleting a site that does not exist is a 404 refusal with Kinsta's message
            let delete = KinstaCall(method: "DELETE", path: "/sites/no-such-site")
            #expect(await api.submit(delete) == .rejected(status: 404, message: "Site not found"))
            // An unknown operation is notFound
            #expect(await api.operationStatus("sites:add-00000000") == .notFound)
        }
        // A wrong key is unauthorized on submit and on poll, and nothing is created
        try await withAPI(key: "wrong") { api, simulator, _ in
            guard case .unauthorized = await api.submit(try Self.plainCall("Nope")) else {
                Issue.record("expected 401")
                return
            }
            guard case .unauthorized = await api.operationStatus("x") else {
                Issue.record("expected 401")
                return
            }
            #expect(simulator.operations().isEmpty)
        }
    }

    /// The request line libcurl sends for a hostile ID: every poll reaches the simulator (none folded away to
    /// another path) and names one segment under `/v2/operations/`.
    @Test func hostileIDsArePolledInsideOperations() async throws {
        try await withAPI { api, simulator, _ in
            let hostile = ["..", ".", "%2e%2e", "../../../sites/site-1", "a?company=x", "a#b", "a b", "./..", "%2F"]
            for id in hostile {
                #expect(await api.operationStatus(id) == .notFound)
            }
            let paths = simulator.requestLog().map(\.path)
            #expect(paths.count == hostile.count)
            for (id, path) in zip(hostile, paths) {
                #expect(path.hasPrefix("/v2/operations/"), "\(id.debugDescription) was sent as \(path)")
                let segment = path.dropFirst("/v2/operations/".count)
                #expect(!segment.contains("/") && !segment.contains("?") && segment != "..", "\(path)")
                #expect(String(segment).removingPercentEncoding == id)
            }
        }
    }

    /// The transport sends a path as it was built: libcurl folds no dot segment (and so no path the daemon built can
    /// turn into another on the way).
    @Test func pathsGoOutAsBuilt() async throws {
        try await withAPI { api, simulator, _ in
            _ = await api.read("/sites/a/../../operations/b")
            #expect(simulator.requestLog().last?.path == "/v2/sites/a/../../operations/b")
        }
    }

    @Test func unreachableKinstaMeansNotSentOrTransient() async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let api = HTTPKinstaAPI(
            configuration: KinstaConfiguration(
                baseURL: "http://127.0.0.1:1/v2",
                apiKey: "k",
                requestTimeout: .seconds(2)
            ),
            http: http,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        guard case .notSent = await api.submit(try Self.plainCall("X")) else {
            Issue.record("a refused connection must count as not sent")
            return
        }
        guard case .transient = await api.operationStatus("x") else {
            Issue.record("a refused connection must be transient for a poll")
            return
        }
    }
}
