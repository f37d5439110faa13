/// How the simulated Kinsta behaves.
public struct SimulatorConfiguration: Sendable {
    /// The Bearer key it accepts.
    public var apiKey: String
    /// The one company it knows.
    public var companyID: String
    /// Each operation answers 404 for a random span in `[0, startupWindowMax]` seconds after it is created.
    public var startupWindowMax: Double
    /// Multiplies every operation's duration (site create 60–300 s, plain 30–120 s, clone 120–480 s,
    /// delete and restore 20–180 s): 0.01 makes minutes into seconds.
    public var durationScale: Double
    /// Probability that an operation ends in 500 "failed".
    public var failureRate: Double
    /// Seeds every random draw: the same seed and the same requests give the same ids, windows and outcomes.
    public var seed: UInt64
    /// Sites that exist at start, each with a live environment and three backups.
    public var seedSites: Int

    public init(
        apiKey: String = "sim-api-key", companyID: String = "54fb80af-5a1c-4f11-9c2e-aa3d1ae0c001",
        startupWindowMax: Double = 10, durationScale: Double = 1, failureRate: Double = 0, seed: UInt64 = 1,
        seedSites: Int = 2
    ) {
        self.apiKey = apiKey
        self.companyID = companyID
        self.startupWindowMax = startupWindowMax
        self.durationScale = durationScale
        self.failureRate = failureRate
        self.seed = seed
        self.seedSites = seedSites
    }
}
