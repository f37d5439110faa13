/// A span of time as text for people, in one style everywhere: the CLI's elapsed times and "5m ago", the chat text of a
/// webhook ("succeeded after 3m 12s"), the daemon's systemd status line.
public enum DurationText {
    /// The `units` largest units of `seconds`, whole and rounded down, from the first that is not zero: `45s`,
    /// `3m 12s`, `1h 4m`, `2d 3h` with two; `45s`, `3m`, `1h`, `2d` with one. A negative span reads as `0s`.
    public static func format(_ seconds: Double, units: Int = 2) -> String {
        let whole = seconds.isFinite ? max(0, Int(seconds.rounded(.down))) : 0
        let parts = [(whole / 86_400, "d"), (whole / 3600 % 24, "h"), (whole / 60 % 60, "m"), (whole % 60, "s")]
        let first = parts.firstIndex { $0.0 != 0 } ?? parts.count - 1
        return parts[first..<min(parts.count, first + max(1, units))].map { "\($0.0)\($0.1)" }
            .joined(separator: " ")
    }

    /// A `Duration` the same way.
    public static func format(_ duration: Duration, units: Int = 2) -> String {
        let (seconds, attoseconds) = duration.components
        return format(Double(seconds) + Double(attoseconds) / 1e18, units: units)
    }
}
