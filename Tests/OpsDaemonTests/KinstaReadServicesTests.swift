import CurlHTTP
import Foundation
import KinstaClient
import Logging
import OpsCore
import OpsTestSupport
import Synchronization
import Testing

@testable import OpsDaemon

/// Log lines a test reads back: level and message.
final class RecordedLog: Sendable {
    let lines = Mutex<[(level: Logger.Level, message: String)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    func messages(_ level: Logger.Level) -> [String] {
        lines.withLock { $0.filter { $0.level == level }.map(\.message) }
    }

    struct Handler: LogHandler {
        let log: RecordedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.lines.withLock { $0.append((event.level, event.message.description)) }
        }
    }
}

/// Lets other tasks run until `condition` holds (a task reaching its sleep, not a span of time).
func yieldUntil(_ condition: () -> Bool) async {
    for _ in 0..<100_000 where !condition() { await Task.yield() }
    #expect(condition())
}

/// `GET /validate` at start and daily: the key's expiry kept for health, a warning once a day in its last 14 days,
/// an error once it expired, and a failed check that is retried and never stops anything.
@Suite struct APIKeyCheckTests {
    struct Fixture {
        let clock = ManualClock()
        let watch = APIKeyWatch()
        let log = RecordedLog()
        let api: ScriptedKinstaAPI

        init(expiresInDays days: Double?, status: String = "active") {
            let start = clock.now()
            let expiry = days.map { start.addingTimeInterval($0 * 86_400) }
            var script = ScriptedKinstaAPI.Script()
            script.read = { path in
                guard path == "/validate" else { return .notFound(message: "no") }
                return .ok([
                    "name": "ops key", "company": "company-1", "status": .string(status),
                    "expires_at": expiry.map { .string(String(Int64($0.timeIntervalSince1970 * 1000))) } ?? .null,
                ])
            }
            api = ScriptedKinstaAPI(script)
        }

        var service: APIKeyCheckService {
            APIKeyCheckService(watch: watch, api: api, clock: clock, logger: log.logger)
        }

        var validateCalls: Int { api.calls.filter { $0 == .read("/validate") }.count }
    }

    @Test func aKeyThatExpiresWithinFourteenDaysIsWarnedAboutOnceADay() async throws {
        let fixture = Fixture(expiresInDays: 10.5)
        let task = Task { [service = fixture.service] in try await service.run() }
        defer { task.cancel() }
        // At start: one check, one warning, and health shows it
        await yieldUntil { fixture.clock.hasSleepers }
        #expect(fixture.validateCalls == 1)
        #expect(fixture.log.messages(.warning).count == 1)
        #expect(fixture.log.messages(.warning).first?.contains("expires in 10 days") == true)
        let health = fixture.watch.health(now: fixture.clock.now())
        #expect(health["name"] == "ops key")
        #expect(health["status"] == "active")
        #expect(health["days_left"] == .integer(10))
        #expect(health["warning"]?.stringValue?.contains("expires in 10 days") == true)
        #expect(fixture.clock.earliestSleeper == fixture.clock.now().addingTimeInterval(86_400))
        // A day later: checked again, warned again (9 days left)
        fixture.clock.advance(by: 86_400)
        await yieldUntil { fixture.validateCalls == 2 && fixture.clock.hasSleepers }
        #expect(fixture.log.messages(.warning).count == 2)
        #expect(fixture.log.messages(.warning).last?.contains("expires in 9 days") == true)
        #expect(fixture.log.messages(.error).isEmpty)
    }

    @Test func aKeyFarFromItsExpiryIsNotWarnedAbout() async throws {
        let fixture = Fixture(expiresInDays: 40)
        #expect(await fixture.service.checkOnce())
        #expect(fixture.log.messages(.warning).isEmpty)
        let health = fixture.watch.health(now: fixture.clock.now())
        #expect(health["days_left"] == .integer(40))
        #expect(health["warning"] == nil)
        // A key that never expires: expires_at null
        let forever = Fixture(expiresInDays: nil)
        #expect(await forever.service.checkOnce())
        #expect(forever.watch.health(now: forever.clock.now())["expires_at"] == .null)
        #expect(forever.watch.health(now: forever.clock.now())["days_left"] == .null)
        #expect(forever.log.messages(.warning).isEmpty)
    }

    @Test func anExpiredKeyIsAnErrorOnceADay() async throws {
        let fixture = Fixture(expiresInDays: -2, status: "expired")
        let service = fixture.service
        #expect(await service.checkOnce())
        #expect(fixture.log.messages(.error).count == 1)
        #expect(fixture.log.messages(.error).first?.contains("expired") == true)
        #expect(fixture.log.messages(.warning).isEmpty)
        #expect(fixture.watch.health(now: fixture.clock.now())["days_left"] == .integer(-2))
        // A second check the same hour logs nothing more; the next day does
        fixture.clock.advance(by: 3600)
        #expect(await service.checkOnce())
        #expect(fixture.log.messages(.error).count == 1)
        fixture.clock.advance(by: 86_400)
        #expect(await service.checkOnce())
        #expect(fixture.log.messages(.error).count == 2)
    }

    @Test func aKeyThatExpiresBetweenChecksTurnsFromWarningToError() async throws {
        let fixture = Fixture(expiresInDays: 0.5)
        let service = fixture.service
        #expect(await service.checkOnce())
        #expect(fixture.log.messages(.warning).count == 1)
        // Twelve hours on, the key expired: an error at once, not a day after the warning
        fixture.clock.advance(by: 13 * 3600)
        #expect(await service.checkOnce())
        #expect(fixture.log.messages(.error).count == 1)
    }

    @Test func anUnreadableAnswerIsLoggedRetriedAndKeepsWhatWasKnown() async throws {
        let fixture = Fixture(expiresInDays: 100)
        let task = Task { [service = fixture.service] in try await service.run() }
        defer { task.cancel() }
        await yieldUntil { fixture.clock.hasSleepers }
        #expect(fixture.validateCalls == 1)
        // Kinsta's answer turns into something else than documented (expires_at no time)
        fixture.api.update { script in
            script.read = { _ in .ok(["name": "ops key", "expires_at": "soon", "company": "c", "status": "active"]) }
        }
        fixture.clock.advance(by: 86_400)
        await yieldUntil { fixture.validateCalls == 2 && fixture.clock.hasSleepers }
        let warnings = fixture.log.messages(.warning)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("could not check the API key") == true)
        let health = fixture.watch.health(now: fixture.clock.now())
        #expect(health["last_error"] != nil)
        #expect(health["days_left"] == .integer(99))
        // Tried again a minute later, then after two
        #expect(fixture.clock.earliestSleeper == fixture.clock.now().addingTimeInterval(60))
        fixture.clock.advance(by: 60)
        await yieldUntil { fixture.validateCalls == 3 && fixture.clock.hasSleepers }
        #expect(fixture.clock.earliestSleeper == fixture.clock.now().addingTimeInterval(120))
        // Kinsta answers again: back to daily, and the error is gone from health
        fixture.api.update { script in
            script.read = { _ in
                .ok(["name": "ops key", "expires_at": .null, "company": "c", "status": "active"])
            }
        }
        fixture.clock.advance(by: 120)
        await yieldUntil { fixture.validateCalls == 4 && fixture.clock.hasSleepers }
        #expect(fixture.watch.health(now: fixture.clock.now())["last_error"] == nil)
        #expect(fixture.clock.earliestSleeper == fixture.clock.now().addingTimeInterval(86_400))
    }

    @Test func aRefusedKeyIsAnError() async throws {
        let fixture = Fixture(expiresInDays: 100)
        fixture.api.update { script in
            script.read = { _ in .failure(.init(status: 401, message: "No or invalid API key", isTransient: false)) }
        }
        #expect(await fixture.service.checkOnce() == false)
        #expect(fixture.log.messages(.error).first?.contains("refused the API key") == true)
        #expect(fixture.watch.health(now: fixture.clock.now())["name"] == .null)
    }

    @Test func expiryIsReadInEveryFormKinstaUses() {
        let date = Date(timeIntervalSince1970: 1_704_081_600)
        #expect(KinstaAPIKey.expiry("1704081600000") == date)
        #expect(KinstaAPIKey.expiry(.integer(1_704_081_600_000)) == date)
        #expect(KinstaAPIKey.expiry("2024-01-01T04:00:00Z") == date)
        #expect(KinstaAPIKey.expiry("2024-01-01T04:00:00.000Z") == date)
        #expect(KinstaAPIKey.expiry("2024-01-01T04:00:00.000") == date)
        #expect(KinstaAPIKey.expiry("2024-01-01T06:00:00+02:00") == date)
        #expect(KinstaAPIKey.expiry("soon") == nil)
        #expect(KinstaAPIKey.expiry(.bool(true)) == nil)
    }
}

/// The company's available regions, read on demand and kept: what a submission's region is checked against.
@Suite struct RegionCatalogTests {
    struct Fixture {
        let clock = ManualClock()
        let catalog: RegionCatalog
        let api: ScriptedKinstaAPI
        let consumer: Task<Void, Never>

        init(company: String? = "company-1", answer: @escaping @Sendable (String) -> KinstaRead) {
            var script = ScriptedKinstaAPI.Script()
            script.read = answer
            let api = ScriptedKinstaAPI(script)
            let catalog = RegionCatalog(company: company, clock: clock, firstReadWait: .seconds(30))
            let service = RegionService(catalog: catalog, api: api, logger: .quiet)
            self.api = api
            self.catalog = catalog
            // What the service's run does, without a service group
            consumer = Task { for await _ in catalog.wakes { await service.refreshOnce() } }
        }

        var reads: Int { api.calls.count }
    }

    static let regions: @Sendable (String) -> KinstaRead = { path in
        #expect(path == "/company/company-1/available-regions")
        return .ok([
            "company": [
                "available_regions": [
                    ["name": "Iowa US (us-central1)", "region": "us-central1"],
                    ["name": "Belgium (europe-west1)", "region": "europe-west1"],
                ]
            ]
        ])
    }

    @Test func theFirstAskingReadsAndLaterOnesUseTheListForAnHour() async {
        let fixture = Fixture(answer: Self.regions)
        defer { fixture.consumer.cancel() }
        #expect(await fixture.catalog.known(for: "company-1") == ["us-central1", "europe-west1"])
        #expect(fixture.reads == 1)
        fixture.clock.advance(by: 3599)
        #expect(await fixture.catalog.known(for: "company-1") == ["us-central1", "europe-west1"])
        #expect(fixture.reads == 1)
        // An hour on, the old list answers at once while a fresh one is read in the background
        fixture.clock.advance(by: 1)
        #expect(await fixture.catalog.known(for: "company-1") == ["us-central1", "europe-west1"])
        await yieldUntil { fixture.reads == 2 }
        // Another company: no list, and nothing is read for it
        #expect(await fixture.catalog.known(for: "company-2") == nil)
        #expect(fixture.reads == 2)
    }

    @Test func withoutAListEverythingIsTakenAndAFailedReadIsRetriedAMinuteLater() async {
        let fixture = Fixture { _ in .failure(.init(status: 503, message: "down", isTransient: true)) }
        defer { fixture.consumer.cancel() }
        #expect(await fixture.catalog.known(for: "company-1") == nil)
        #expect(fixture.reads == 1)
        // Within the minute: no new read, no wait
        fixture.clock.advance(by: 30)
        #expect(await fixture.catalog.known(for: "company-1") == nil)
        #expect(fixture.reads == 1)
        // After it: read again, and once Kinsta answers the list is there
        fixture.api.update { $0.read = Self.regions }
        fixture.clock.advance(by: 30)
        #expect(await fixture.catalog.known(for: "company-1") == ["us-central1", "europe-west1"])
        #expect(fixture.reads == 2)
        // A refresh that fails later keeps the list read before
        fixture.api.update { $0.read = { _ in .ok(["company": [:]]) } }
        fixture.clock.advance(by: 3600)
        #expect(await fixture.catalog.known(for: "company-1") == ["us-central1", "europe-west1"])
        await yieldUntil { fixture.reads == 3 }
        #expect(fixture.catalog.snapshot?.regions.count == 2)
        // The old list goes on answering; the failed refresh is tried again a minute later, not at every asking
        fixture.clock.advance(by: 30)
        #expect(await fixture.catalog.known(for: "company-1") == ["us-central1", "europe-west1"])
        for _ in 0..<100 { await Task.yield() }
        #expect(fixture.reads == 3)
        fixture.clock.advance(by: 30)
        #expect(await fixture.catalog.known(for: "company-1") == ["us-central1", "europe-west1"])
        await yieldUntil { fixture.reads == 4 }
    }

    @Test func noCompanyMeansNoListAndNoRead() async {
        let fixture = Fixture(company: nil, answer: Self.regions)
        defer { fixture.consumer.cancel() }
        #expect(await fixture.catalog.known(for: "company-1") == nil)
        #expect(fixture.reads == 0)
    }

    @Test func theFirstAskingWaitsOnlyBriefly() async {
        // Nothing reads (no service): the first submission still gets its answer, once firstReadWait passed
        let catalog = RegionCatalog(company: "company-1", clock: ManualClock(), firstReadWait: .milliseconds(50))
        #expect(await catalog.known(for: "company-1") == nil)
    }
}

/// The region check in the real daemon: it never blocks a submission on Kinsta.
@Suite struct RegionCheckTests {
    func submit(_ api: ScriptedKinstaAPI, region: String) async throws -> (first: Int, second: Int) {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        return try await InProcessDaemon.with(
            clock: ManualClock(),
            api: api,
            configure: { $0.maxInFlight = 0 },
            { daemon in
                let running = SocketAPITests.Running(transport: .socket(path: daemon.socketPath, http: http))
                let body =
                    #"{"kind":"site.create","params":{"display_name":"A","region":"\#(region)","#
                    + #""admin_email":"a@example.com","admin_password":"pw-123456","admin_user":"admin","#
                    + #""site_title":"A","wp_language":"en_US"}}"#
                let first = try await running.send("POST", "/v1/jobs", body: body).status
                let second = try await running.send("POST", "/v1/jobs", body: body.replacing("\"A\"", with: "\"B\""))
                    .status
                return (first, second)
            }
        )
    }

    @Test func kinstaDownMeansTheJobIsTaken() async throws {
        // Every read answers 503: no list, so no check (Kinsta refuses a bad region itself)
        let api = ScriptedKinstaAPI()
        let statuses = try await submit(api, region: "mars-north1")
        #expect(statuses.first == 201)
        #expect(statuses.second == 201)
        // The list was asked for once: the second submission came within the minute after the failed read
        #expect(api.calls.filter { $0 == .read("/company/company-1/available-regions") }.count == 1)
    }

    @Test func aListThatWasReadRefusesAnUnknownRegion() async throws {
        var script = ScriptedKinstaAPI.Script()
        script.read = { path in
            guard path.hasSuffix("/available-regions") else {
                return .failure(.init(status: 500, message: "x", isTransient: true))
            }
            return .ok(["company": ["available_regions": [["name": "Iowa US (us-central1)", "region": "us-central1"]]]])
        }
        let api = ScriptedKinstaAPI(script)
        let refused = try await submit(api, region: "mars-north1")
        #expect(refused.first == 422)
        #expect(refused.second == 422)
        #expect(api.calls.filter { $0 == .read("/company/company-1/available-regions") }.count == 1)
        let taken = try await submit(ScriptedKinstaAPI(script), region: "us-central1")
        #expect(taken.first == 201)
        #expect(taken.second == 201)
    }
}
