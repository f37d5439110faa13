public import Foundation
public import KinstaClient
public import Logging
public import OpsCore
public import ServiceLifecycle
import Synchronization

/// What the daemon knows of its API key: the last answer of `GET /validate` (name, expiry, status) and how the
/// last check went. `GET /v1/health` shows it as `api_key`.
public final class APIKeyWatch: Sendable {
    private struct State {
        var key: KinstaAPIKey?
        var checkedAt: Date?
        var lastError: String?
        var attempted = false
        /// When the expiry was last logged, and whether as expired.
        var expiryLogged: (at: Date, expired: Bool)?
    }

    /// Within this many days of its expiry the key is warned about (in the log once a day, and in health).
    public static let warningDays = 14.0

    private let state = Mutex(State())

    public init() {}

    /// The last key read, if any.
    public var key: KinstaAPIKey? { state.withLock { $0.key } }

    func record(_ key: KinstaAPIKey, at now: Date) {
        state.withLock { state in
            state.key = key
            state.checkedAt = now
            state.lastError = nil
            state.attempted = true
        }
    }

    func recordFailure(_ reason: String) {
        state.withLock { state in
            state.lastError = reason
            state.attempted = true
        }
    }

    /// Whole days until `expiresAt` (negative once it passed).
    static func daysLeft(_ expiresAt: Date, now: Date) -> Int {
        Int((expiresAt.timeIntervalSince(now) / 86_400).rounded(.down))
    }

    /// Whether the key is expired (by its time or by Kinsta's word) or expires within ``warningDays``; `nil` when
    /// neither (or nothing is known).
    static func concern(_ key: KinstaAPIKey?, now: Date) -> (expired: Bool, message: String)? {
        guard let key else { return nil }
        let expiresAt = key.expiresAt
        if key.status == "expired" || expiresAt.map({ $0 <= now }) == true {
            let when = expiresAt.map { " on \($0.formatted(.iso8601))" } ?? ""
            return (true, "the Kinsta API key \(key.name.map { "\"\($0)\" " } ?? "")expired\(when); create a new one")
        }
        guard let expiresAt, expiresAt.timeIntervalSince(now) <= warningDays * 86_400 else { return nil }
        let days = daysLeft(expiresAt, now: now)
        return (
            false,
            "the Kinsta API key \(key.name.map { "\"\($0)\" " } ?? "")expires in \(days) day\(days == 1 ? "" : "s") "
                + "(\(expiresAt.formatted(.iso8601))); create a new one before then"
        )
    }

    /// Whether the expiry is to be logged now: once a day, and at once when the key went from expiring to expired.
    func shouldLogExpiry(expired: Bool, at now: Date) -> Bool {
        state.withLock { state in
            if let last = state.expiryLogged, now.timeIntervalSince(last.at) < 86_400, last.expired || !expired {
                return false
            }
            state.expiryLogged = (now, expired)
            return true
        }
    }

    /// `api_key` of `GET /v1/health`: `null` until the first check ended; then `name`, `expires_at` (ISO 8601,
    /// `null` for a key that never expires), `status`, `days_left`, `checked_at`, and `warning` within 14 days of the
    /// expiry, `last_error` when the last check failed.
    public func health(now: Date) -> JSONValue {
        state.withLock { state in
            guard state.attempted else { return .null }
            let key = state.key
            var object: [String: JSONValue] = [
                "name": key?.name.map(JSONValue.string) ?? .null,
                "expires_at": key?.expiresAt.map { .string($0.formatted(.iso8601)) } ?? .null,
                "status": key?.status.map(JSONValue.string) ?? .null,
                "days_left": key?.expiresAt.map { .integer(Int64(Self.daysLeft($0, now: now))) } ?? .null,
                "checked_at": state.checkedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
            ]
            if let concern = Self.concern(key, now: now) { object["warning"] = .string(concern.message) }
            if let error = state.lastError { object["last_error"] = .string(error) }
            return .object(object)
        }
    }
}

/// Checks the API key with `GET /validate` (through the request budget) at start and then daily, keeping what it
/// learns in an ``APIKeyWatch``. Within 14 days of the key's expiry it logs a warning once a day, once expired an
/// error. A check that fails is logged and tried again later (1 min, doubling to 1 h); it never stops the daemon.
public struct APIKeyCheckService: Service {
    let watch: APIKeyWatch
    let api: any KinstaAPI
    let clock: any DaemonClock
    let logger: Logger
    /// Seconds between checks that worked.
    let interval: Double
    /// The wait after the first failed check; it doubles with each failure in a row, up to `maxRetry`.
    let firstRetry: Double
    let maxRetry: Double

    public init(
        watch: APIKeyWatch,
        api: any KinstaAPI,
        clock: any DaemonClock,
        logger: Logger,
        interval: Double = 86_400,
        firstRetry: Double = 60,
        maxRetry: Double = 3600
    ) {
        self.watch = watch
        self.api = api
        self.clock = clock
        self.logger = logger
        self.interval = interval
        self.firstRetry = firstRetry
        self.maxRetry = maxRetry
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var failures = 0
                while !Task.isCancelled {
                    if await checkOnce() {
                        failures = 0
                    } else {
                        failures += 1
                    }
                    let wait =
                        failures == 0
                        ? interval : min(maxRetry, firstRetry * pow(2, Double(min(failures - 1, 20))))
                    try await clock.sleep(until: clock.now().addingTimeInterval(wait))
                }
            }
        } catch is CancellationError {
            // Shutdown interrupted the sleep.
        }
    }

    /// One check: reads `/validate`, records the answer, logs the expiry when it is near. Whether it worked.
    func checkOnce() async -> Bool {
        let worked: Bool
        switch await api.validateKey() {
        case .found(let key):
            watch.record(key, at: clock.now())
            logger.info(
                "API key checked",
                metadata: [
                    "key.name": "\(key.name ?? "-")",
                    "key.expires_at": "\(key.expiresAt.map { $0.formatted(.iso8601) } ?? "never")",
                    "key.status": "\(key.status ?? "-")",
                ]
            )
            worked = true
        case .notFound(let message):
            worked = failed("Kinsta answered 404: \(message)")
        case .unreadable(let reason):
            worked = failed(reason)
        case .failure(let failure):
            if failure.status == 401 {
                watch.recordFailure(failure.description)
                logger.error(
                    "Kinsta refused the API key (GET /validate); nothing can be sent until it is replaced",
                    metadata: ["reason": "\(failure.description)"]
                )
                worked = false
            } else {
                worked = failed(failure.description)
            }
        }
        // From the last key read, also when this check failed: a known expiry is still true.
        let now = clock.now()
        if let concern = APIKeyWatch.concern(watch.key, now: now),
            watch.shouldLogExpiry(expired: concern.expired, at: now)
        {
            if concern.expired {
                logger.error("\(concern.message)")
            } else {
                logger.warning("\(concern.message)")
            }
        }
        return worked
    }

    private func failed(_ reason: String) -> Bool {
        watch.recordFailure(reason)
        logger.warning(
            "could not check the API key (GET /validate); trying again later",
            metadata: ["reason": "\(reason)"]
        )
        return false
    }
}
