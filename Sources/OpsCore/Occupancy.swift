/// What the jobs in flight occupy, and whether one more may start beside them.
///
/// A job's targets are keys (``ValidatedParams/targets``): `site:ID`, `env:ID`, `site-name:NAME` and a few others.
/// Two jobs conflict when they share a key, and also when one holds a site and the other an environment of that site
/// (Kinsta refuses work on an environment while its site is busy, and the reverse). Which site an environment belongs
/// to is what `siteOf` knows; an environment it does not know conflicts only with itself.
public struct Occupancy: Sendable {
    private var keys: Set<String> = []
    /// Sites one of whose environments is occupied.
    private var sitesWithBusyEnvironments: Set<String> = []
    private let siteOf: [String: String]

    /// - Parameters:
    ///   - busy: the target column of every job in flight (keys one a line).
    ///   - siteOf: environment ID → site ID, as far as known.
    public init(busy: some Sequence<String>, siteOf: [String: String]) {
        self.siteOf = siteOf
        for target in busy { insert(Self.keys(of: target)) }
    }

    /// Splits a stored target into its keys.
    public static func keys(of target: String) -> [String] {
        target.split(separator: "\n").map(String.init)
    }

    /// Whether a job with these keys would share anything with the jobs in flight.
    public func conflicts(_ candidate: [String]) -> Bool {
        for key in candidate {
            if keys.contains(key) { return true }
            if let site = Self.id(key, "site:"), sitesWithBusyEnvironments.contains(site) { return true }
            if let environment = Self.id(key, "env:"), let site = siteOf[environment], keys.contains("site:" + site) {
                return true
            }
        }
        return false
    }

    /// Marks a job's keys occupied.
    public mutating func insert(_ new: [String]) {
        for key in new {
            keys.insert(key)
            if let environment = Self.id(key, "env:"), let site = siteOf[environment] {
                sitesWithBusyEnvironments.insert(site)
            }
        }
    }

    /// Whether telling this job's conflicts needs an environment whose site is not known: one it names, or, for a
    /// site job, one in flight.
    public func needsUnknownEnvironment(_ candidate: [String]) -> Bool {
        if candidate.contains(where: { Self.id($0, "env:").map { siteOf[$0] == nil } ?? false }) { return true }
        return candidate.contains { $0.hasPrefix("site:") } && hasUnknownBusyEnvironment
    }

    private var hasUnknownBusyEnvironment: Bool {
        keys.contains { Self.id($0, "env:").map { siteOf[$0] == nil } ?? false }
    }

    private static func id(_ key: String, _ prefix: String) -> String? {
        key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : nil
    }
}
