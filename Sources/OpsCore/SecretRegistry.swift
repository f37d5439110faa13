import Synchronization

/// Every secret value the daemon knows right now, for masking outside text (``SecretMask``): the API key, the
/// webhook secrets, and each job's secret parameters from the moment the engine sends them until the job ends.
///
/// A job's secrets are erased from the database once Kinsta accepts it, but Kinsta may still echo them in the
/// operation's answers, so the registry keeps them in memory (never on disk) until the job's attempt is over. After
/// a restart, jobs past acceptance hold none any more; their echoes can no longer be recognised.
public final class SecretRegistry: Sendable {
    private struct State {
        var fixed: Set<String>
        var configured: Set<String> = []
        var jobs: [Int64: [String]] = [:]
        var mask: SecretMask
    }

    private let state: Mutex<State>

    /// - Parameter fixed: secrets for the process's life (the API key).
    public init(fixed: some Sequence<String>) {
        let fixed = Set(fixed.filter { !$0.isEmpty })
        state = Mutex(State(fixed: fixed, mask: SecretMask(fixed)))
    }

    /// The mask of every secret known now.
    public var mask: SecretMask { state.withLock { $0.mask } }

    /// Replaces the secrets that come from configuration (webhook secrets and secret URLs; again on SIGHUP).
    public func setConfigured(_ secrets: some Sequence<String>) {
        let secrets = Set(secrets.filter { !$0.isEmpty })
        state.withLock { state in
            guard state.configured != secrets else { return }
            state.configured = secrets
            Self.rebuild(&state)
        }
    }

    /// Keeps a job's secret values until ``release(job:)``.
    public func hold(job: Int64, _ secrets: [String]) {
        let secrets = secrets.filter { !$0.isEmpty }
        guard !secrets.isEmpty else { return }
        state.withLock { state in
            guard state.jobs[job] != secrets else { return }
            state.jobs[job] = secrets
            Self.rebuild(&state)
        }
    }

    /// Forgets a job's secret values (its attempt ended).
    public func release(job: Int64) {
        state.withLock { state in
            guard state.jobs.removeValue(forKey: job) != nil else { return }
            Self.rebuild(&state)
        }
    }

    private static func rebuild(_ state: inout State) {
        var all = state.fixed.union(state.configured)
        for values in state.jobs.values { all.formUnion(values) }
        state.mask = SecretMask(all)
    }
}
