import CurlHTTP
import KinstaClient
import KinstaSimulator
import Logging
import OpsDaemon
import OpsStore
import OpsTestSupport

/// What a virtual-time run of the real engine stands on: a manual clock, the simulator on that clock behind loopback
/// HTTP, a scratch database (OpsTestSupport's `TemporaryDatabase`) and a quiet logger.
struct EngineRig: Sendable {
    let clock: ManualClock
    let simulator: KinstaSimulator
    let database: OpsDatabase
    let api: HTTPKinstaAPI
    let logger: Logger
}

/// Runs `body` on a fresh ``EngineRig`` (a scratch folder named after `name`), and removes it all afterwards.
func withEngineRig<T: Sendable>(
    _ name: String,
    simulator configuration: SimulatorConfiguration,
    _ body: @escaping @Sendable (EngineRig) async throws -> T
) async throws -> T {
    let clock = ManualClock()
    let simulator = KinstaSimulator(configuration: configuration, now: { clock.now() })
    let scratch = try TemporaryDatabase(name)
    let http = CurlHTTPClient()
    defer { http.shutdown() }
    return try await withRunningSimulator(simulator) { base in
        var logger = Logger(label: "bench.engine")
        logger.logLevel = .critical
        let database = scratch.database
        return try await body(
            EngineRig(
                clock: clock,
                simulator: simulator,
                database: database,
                api: Workload.api(base: base, http: http),
                logger: logger
            )
        )
    }
}
