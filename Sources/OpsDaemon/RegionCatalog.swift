public import Foundation
public import KinstaClient
public import Logging
public import ServiceLifecycle
import Synchronization

/// The configured company's available regions, read from Kinsta on demand (`GET /company/{id}/available-regions`,
/// through the request budget) and kept: a submission with a `region` asks it, and a region that is not in a list
/// that *was* read is refused at the socket before Kinsta refuses it.
///
/// Submissions never depend on Kinsta being reachable: with no list (no company configured, Kinsta down, not read
/// yet) the answer is "don't know" and the job is taken; Kinsta refuses a bad region then. Only the first asking
/// waits, briefly (``firstReadWait``), for the first read; a list older than ``maxAge`` is still used while a fresh
/// one is read in the background, and a failed read is tried again no sooner than ``retrySpacing`` later.
public final class RegionCatalog: Sendable {
    private struct State {
        var regions: [KinstaRegion]?
        var readAt: Date?
        var lastAttempt: Date?
        var requested = false
        var reading = false
        /// Reads finished (with or without a list): a waiter returns once this passes what it saw.
        var finishedReads = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    /// The company whose list this is (`nil`: none configured, nothing is ever read).
    public let company: String?
    let clock: any DaemonClock
    /// A list is read again (in the background) once it is this old: at most hourly.
    public let maxAge: Double
    /// After a failed read, the next one waits this long.
    public let retrySpacing: Double
    /// How long the first submission waits for the first read before it is taken without a check.
    public let firstReadWait: Duration
    private let state = Mutex(State())
    private let wake: AsyncStream<Void>.Continuation
    let wakes: AsyncStream<Void>

    public init(
        company: String?,
        clock: any DaemonClock,
        maxAge: Double = 3600,
        retrySpacing: Double = 60,
        firstReadWait: Duration = .seconds(2)
    ) {
        self.company = company.flatMap { $0.isEmpty ? nil : $0 }
        self.clock = clock
        self.maxAge = maxAge
        self.retrySpacing = retrySpacing
        self.firstReadWait = firstReadWait
        (wakes, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The region names (`us-central1`, …) `company` can create sites in, or `nil` when no list was read for it.
    /// Asks for a read when there is no list or it is old; waits for it (at most ``firstReadWait``) only when there
    /// is no list yet.
    public func known(for company: String) async -> [String]? {
        guard company == self.company else { return nil }
        let now = clock.now()
        let (list, waitAfter) = state.withLock { state -> ([KinstaRegion]?, Int?) in
            if let regions = state.regions {
                let stale = state.readAt.map { now.timeIntervalSince($0) >= maxAge } ?? true
                let retryDue = state.lastAttempt.map { now.timeIntervalSince($0) >= retrySpacing } ?? true
                if stale, retryDue, !state.reading {
                    state.requested = true
                    wake.yield()
                }
                return (regions, nil)
            }
            if state.reading { return (nil, state.finishedReads) }
            if let last = state.lastAttempt, now.timeIntervalSince(last) < retrySpacing { return (nil, nil) }
            state.requested = true
            wake.yield()
            return (nil, state.finishedReads)
        }
        if let list { return list.map(\.region) }
        guard let waitAfter else { return nil }
        await waitForRead(after: waitAfter)
        return state.withLock { $0.regions?.map(\.region) }
    }

    /// The list as last read, with when (for tests and health).
    public var snapshot: (regions: [KinstaRegion], readAt: Date)? {
        state.withLock { state in
            guard let regions = state.regions, let readAt = state.readAt else { return nil }
            return (regions, readAt)
        }
    }

    /// Waits until a read finished after `finished` reads, or ``firstReadWait`` passed (wall-clock time: the bound
    /// holds whatever the daemon's clock does).
    private func waitForRead(after finished: Int) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.readFinished(after: finished) }
            group.addTask { [firstReadWait] in try? await Task.sleep(for: firstReadWait) }
            await group.next()
            group.cancelAll()
        }
    }

    private func readFinished(after finished: Int) async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.finishedReads > finished || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Starts a read when one was asked for and none is under way: the company to read, else `nil`.
    func beginRead(at now: Date) -> String? {
        guard let company else { return nil }
        return state.withLock { state in
            guard state.requested, !state.reading else { return nil }
            state.requested = false
            state.reading = true
            state.lastAttempt = now
            return company
        }
    }

    /// Ends a read: keeps the list when there is one (an old list stays when a refresh failed), and wakes the
    /// submissions waiting for it.
    func finishRead(_ regions: [KinstaRegion]?, at now: Date) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if let regions {
                state.regions = regions
                state.readAt = now
            }
            state.reading = false
            state.finishedReads += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Reads the company's available regions whenever the ``RegionCatalog`` asks (a submission with a region and no
/// fresh list). A daemon that never gets such a submission never makes the read.
public struct RegionService: Service {
    let catalog: RegionCatalog
    let api: any KinstaAPI
    let logger: Logger

    public init(catalog: RegionCatalog, api: any KinstaAPI, logger: Logger) {
        self.catalog = catalog
        self.api = api
        self.logger = logger
    }

    public func run() async throws {
        guard catalog.company != nil else {
            // No company: nothing to read. A service that returned would end the group: wait for the end.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            for await _ in catalog.wakes {
                await refreshOnce()
            }
        }
    }

    /// One read, when one is due; what failed is logged, and the submissions go on without a check meanwhile.
    func refreshOnce() async {
        guard let company = catalog.beginRead(at: catalog.clock.now()) else { return }
        let reason: String
        switch await api.regions(ofCompany: company) {
        case .found(let regions) where !regions.isEmpty:
            catalog.finishRead(regions, at: catalog.clock.now())
            logger.debug("available regions read", metadata: ["regions": "\(regions.count)"])
            return
        case .found: reason = "Kinsta listed no regions"
        case .notFound(let message): reason = message
        case .unreadable(let why): reason = why
        case .failure(let failure): reason = failure.description
        }
        catalog.finishRead(nil, at: catalog.clock.now())
        logger.warning(
            "could not read the company's available regions; site creations are taken without a region check",
            metadata: ["reason": "\(reason)"]
        )
    }
}
