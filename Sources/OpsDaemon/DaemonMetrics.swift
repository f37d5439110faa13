import CoreMetrics
public import Foundation
import OpsCore
public import OpsStore
public import Prometheus
import Synchronization

/// The daemon's Prometheus metrics. Labels are bounded (states, kinds, call and outcome names), never IDs.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `kinsta_opsd_jobs` | gauge, refreshed at scrape | `state` |
/// | `kinsta_opsd_transitions_total` | counter | `from`, `to` |
/// | `kinsta_opsd_kinsta_requests_total` | counter | `call` (submit, operation, read), `outcome` |
/// | `kinsta_opsd_poll_lag_seconds` | histogram | how late a due action started |
/// | `kinsta_opsd_webhook_deliveries_total` | counter | `result` |
public final class DaemonMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let lag: ValueHistogram
    private let lastAnswer = Mutex<(at: Date, summary: String)?>(nil)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        lag = registry.makeValueHistogram(
            descriptor: Self.name("poll_lag", unit: "seconds", "How late a due submit, poll or reconciliation started"),
            buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300]
        )
    }

    /// Makes this registry the process's swift-metrics backend, so libraries that report through swift-metrics (the
    /// socket server's request metrics) land on the same `/metrics`. Once per process: the executable calls it.
    public func bootstrapSwiftMetrics() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    func transition(from: JobState, to: JobState) {
        registry.makeCounter(
            descriptor: Self.name("transitions", unit: "total", "Job state changes"),
            labels: [("from", from.rawValue), ("to", to.rawValue)]
        ).increment()
    }

    func kinstaCall(_ call: String, outcome: String, at: Date, summary: String) {
        registry.makeCounter(
            descriptor: Self.name("kinsta_requests", unit: "total", "Requests to Kinsta by call and outcome"),
            labels: [("call", call), ("outcome", outcome)]
        ).increment()
        lastAnswer.withLock { $0 = (at, summary) }
    }

    func webhookDelivery(result: String) {
        registry.makeCounter(
            descriptor: Self.name("webhook_deliveries", unit: "total", "Webhook delivery attempts by result"),
            labels: [("result", result)]
        ).increment()
    }

    func actionLag(_ seconds: Double) { lag.record(max(0, seconds)) }

    private static func name(_ metric: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "kinsta_opsd", metricName: metric, unitName: unit, helpText: help)
    }

    /// When Kinsta last answered and with what, for health.
    public var lastKinstaAnswer: (at: Date, summary: String)? { lastAnswer.withLock { $0 } }

    /// The text exposition, with the job gauges read from the database now.
    public func render(database: OpsDatabase) async -> String {
        if let counts = try? await database.stateCounts() {
            for state in JobState.allCases {
                registry.makeGauge(
                    descriptor: Self.name("jobs", unit: "", "Jobs by state"),
                    labels: [("state", state.rawValue)]
                )
                .set(to: Double(counts[state] ?? 0))
            }
        }
        return registry.emitToString()
    }
}
