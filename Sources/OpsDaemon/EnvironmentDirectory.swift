public import Foundation
public import OpsCore
import Synchronization

/// Which site each environment belongs to, as far as the daemon knows: learned from Kinsta's sites list (the
/// ``EnvironmentDirectoryService`` refreshes it), from jobs that name both (`site_id` with an environment), and from
/// what succeeded jobs created. The engine asks it so that a site job and a job on one of its environments are never
/// in flight together.
public final class EnvironmentDirectory: Sendable {
    private struct State {
        var siteOf: [String: String] = [:]
        var refreshRequested = false
        var lastRefresh: Date?
    }

    private let state: Mutex<State>

    public init(siteOf: [String: String] = [:]) {
        state = Mutex(State(siteOf: siteOf))
    }

    /// Environment ID → site ID.
    public var siteOf: [String: String] { state.withLock { $0.siteOf } }

    /// Learns what a job's parameters say: every environment it names belongs to its `site_id`, when it has one;
    /// with `outputs`, the environment a succeeded create made belongs to the site it made or was given.
    public func learn(from params: ValidatedParams, outputs: [String: JSONValue] = [:]) {
        let site = outputs["site_id"]?.stringValue ?? params.values["site_id"]?.stringValue
        guard let site, !site.isEmpty, params.kind != .siteDelete else { return }
        var environments = params.kind.spec.targets.compactMap { target -> String? in
            guard case .environment(let param) = target else { return nil }
            return params.values[param]?.stringValue
        }
        if let created = outputs["env_id"]?.stringValue { environments.append(created) }
        guard !environments.isEmpty else { return }
        state.withLock { state in
            for environment in environments where !environment.isEmpty { state.siteOf[environment] = site }
        }
    }

    /// Replaces what is known with a fresh read of the company's sites.
    public func replace(with map: [String: String], at now: Date) {
        state.withLock { state in
            state.siteOf = map
            state.refreshRequested = false
            state.lastRefresh = now
        }
    }

    /// Asks the refresh loop for a read soon (an environment the directory does not know).
    public func requestRefresh() {
        state.withLock { $0.refreshRequested = true }
    }

    /// Whether a read is due: asked for, and the last one at least `spacing` ago. Environments never move to
    /// another site, so what is known stays true; only environments made since the last read are missing, and the
    /// engine asks when it meets one.
    package func refreshDue(now: Date, spacing: Double) -> Bool {
        state.withLock { state in
            guard state.refreshRequested else { return false }
            guard let last = state.lastRefresh else { return true }
            return now.timeIntervalSince(last) >= spacing
        }
    }

    package func noteFailedRefresh(at now: Date) {
        state.withLock { $0.lastRefresh = now }
    }
}
