/// How the simulated Kinsta behaves.
public struct SimulatorConfiguration: Sendable {
    /// The Bearer key it accepts.
    public var apiKey: String
    /// The one company it knows.
    public var companyID: String
    /// Each operation answers 404 for a random span in `[0, startupWindowMax]` seconds after it is created.
    public var startupWindowMax: Double
    /// Multiplies every operation's duration (site create 60–300 s, plain 30–120 s, clone 120–480 s, delete and
    /// restore 20–180 s, environment create/clone/push and site reset 60–300 s, manual backup 30–180 s, the tools,
    /// caches, PHP, domains, DNS, plugins and SFTP 3–60 s): 0.01 makes minutes into seconds.
    public var durationScale: Double
    /// From the operation numbered `afterOperations` on (counting from 0, in creation order), `scale` replaces
    /// `durationScale`: a Kinsta that got faster or slower in the middle of a run.
    public var durationShift: (afterOperations: Int, scale: Double)?
    /// How each operation's start-up window and duration are drawn.
    public var durations: SimulatedDurations
    /// Probability that an operation ends in 500 "failed".
    public var failureRate: Double
    /// Seeds every random draw: the same seed and the same requests give the same ids, windows and outcomes.
    public var seed: UInt64
    /// Sites that exist at start, each with a live and a staging environment (each with backups, domains, plugins,
    /// themes and an SFTP account).
    public var seedSites: Int
    /// The regions `GET /company/{id}/available-regions` lists; a site create in another is refused (400). `us` is
    /// there for the older tests of other modules that send it.
    public var regions: [String]
    /// Days from start until the API key expires (`GET /validate` shows it; after it every request answers 401);
    /// 0: it never expires.
    public var keyExpiresInDays: Double
    /// Takes the older restore body (`env_display_name_of_backup` instead of `notified_user_id`), which the current
    /// OpenAPI file does not have.
    public var acceptsLegacyRestoreBody: Bool
    /// The misbehaviour of the real API, for reliability tests (all off by default).
    public var chaos: SimulatorChaos

    public init(
        apiKey: String = "sim-api-key",
        companyID: String = "54fb80af-5a1c-4f11-9c2e-aa3d1ae0c001",
        startupWindowMax: Double = 10,
        durationScale: Double = 1,
        failureRate: Double = 0,
        seed: UInt64 = 1,
        seedSites: Int = 2,
        chaos: SimulatorChaos = SimulatorChaos(),
        durations: SimulatedDurations = .uniform,
        regions: [String] = SimulatorConfiguration.defaultRegions,
        keyExpiresInDays: Double = 365,
        acceptsLegacyRestoreBody: Bool = false,
        durationShift: (afterOperations: Int, scale: Double)? = nil
    ) {
        self.durationShift = durationShift
        self.regions = regions
        self.keyExpiresInDays = keyExpiresInDays
        self.acceptsLegacyRestoreBody = acceptsLegacyRestoreBody
        self.durations = durations
        self.chaos = chaos
        self.apiKey = apiKey
        self.companyID = companyID
        self.startupWindowMax = startupWindowMax
        self.durationScale = durationScale
        self.failureRate = failureRate
        self.seed = seed
        self.seedSites = seedSites
    }

    public static let defaultRegions = ["us-central1", "europe-west1", "us-east1", "asia-southeast1", "us"]
}

/// How operation durations are drawn (before `durationScale`).
public enum SimulatedDurations: Sendable, Hashable {
    /// Uniform over each kind's range (site create 60–300 s, plain 30–120 s, clone 120–480 s, delete and restore
    /// 20–180 s), from the simulator's one generator.
    case uniform
    /// Kinsta-like, for benchmarks: log-normal with the kind's range as its central ~98 % (median at the range's
    /// geometric middle), kept within 0.8 × low … 1.3 × high; a share `tailRate` instead takes 1–2.5 × the range's
    /// top (the long tail). Window and duration come from a generator seeded by the operation's number, so the
    /// same submissions in the same order meet the same operations however (and however often) they are polled.
    case kinstaLike(tailRate: Double)
}

/// Ways the simulated API misbehaves, as the real one has been seen to (docs/kinsta-api.md: "Late 404s", "Transient
/// 500s", "429 and `Retry-After`", "The environment is blocked by another process", "A 5xx to a create is not
/// 'nothing happened'"). Each rate is a probability per request, drawn from a generator of its own (so a seed still
/// gives the same ids and durations).
public struct SimulatorChaos: Sendable {
    /// `/operations` answers 500 (Kinsta's JSON) while the operation is in fact still running.
    public var transient500Rate: Double
    /// `/operations` answers 404 while the operation is running (a late 404).
    public var late404Rate: Double
    /// Any `/v2` request answers 502 or 503 with an HTML body.
    public var serverErrorRate: Double
    /// Any `/v2` request answers 200 with a body that is not JSON (for a submit: after doing the work).
    public var garbageRate: Double
    /// Any `/v2` request is held for `stallSeconds` before its answer.
    public var stallRate: Double
    public var stallSeconds: Double
    /// More `/v2` requests than this in a minute answer 429 (0: no limit).
    public var rateLimitPerMinute: Int
    /// The `Retry-After` seconds sent with a 429, if any.
    public var retryAfter: Int?
    /// A submit on a site or environment that has an operation running answers 400 "environment is blocked".
    public var refuseBlocked: Bool
    /// Probability that a submit on a site or environment answers 400 "environment is blocked" anyway, as when
    /// someone works on it in MyKinsta: nothing the daemon's own serialisation can prevent.
    public var blockedRate: Double
    /// Probability that a submit Kinsta took (the operation starts) answers 500 "Error occurred while creating a
    /// site", or 502/504 from a proxy, instead of its 202: an answer that does not prove nothing was done.
    public var beganErrorRate: Double
    /// Every JSON answer echoes the request: its `Authorization` header and body in the message and an `echo` member,
    /// and an operation's answers echo the submit it came from (as a careless server or proxy would).
    public var echoSecrets: Bool
    /// Every submit (a POST or DELETE under `/v2`) is held this many seconds before it is taken: a window in which a
    /// fault can strike while the request is at Kinsta.
    public var submitDelay: Double

    public init(
        transient500Rate: Double = 0,
        late404Rate: Double = 0,
        serverErrorRate: Double = 0,
        garbageRate: Double = 0,
        stallRate: Double = 0,
        stallSeconds: Double = 0,
        rateLimitPerMinute: Int = 0,
        retryAfter: Int? = nil,
        refuseBlocked: Bool = false,
        blockedRate: Double = 0,
        beganErrorRate: Double = 0,
        echoSecrets: Bool = false,
        submitDelay: Double = 0
    ) {
        self.submitDelay = submitDelay
        self.beganErrorRate = beganErrorRate
        self.echoSecrets = echoSecrets
        self.blockedRate = blockedRate
        self.transient500Rate = transient500Rate
        self.late404Rate = late404Rate
        self.serverErrorRate = serverErrorRate
        self.garbageRate = garbageRate
        self.stallRate = stallRate
        self.stallSeconds = stallSeconds
        self.rateLimitPerMinute = rateLimitPerMinute
        self.retryAfter = retryAfter
        self.refuseBlocked = refuseBlocked
    }
}
