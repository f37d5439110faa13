import OpsCore
import Testing

/// Durations as text: one style for the CLI, webhooks and the systemd status.
@Suite struct DurationTextTests {
    @Test(arguments: [
        (0.0, "0s", "0s"), (45.9, "45s", "45s"), (60, "1m 0s", "1m"), (192, "3m 12s", "3m"), (3840, "1h 4m", "1h"),
        (90_000, "1d 1h", "1d"), (-5, "0s", "0s"),
    ])
    func twoUnitsAndOne(seconds: Double, two: String, one: String) {
        #expect(DurationText.format(seconds) == two)
        #expect(DurationText.format(seconds, units: 1) == one)
    }

    @Test func aDurationReadsAsItsSeconds() {
        #expect(DurationText.format(.milliseconds(65_500)) == "1m 5s")
    }
}
