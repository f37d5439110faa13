import Foundation

/// Crash points for the reliability tests: with `KINSTA_OPSD_FAILPOINT=after-submit` in a debug build, the daemon
/// exits at once right after Kinsta accepted a submission and before the answer is committed, the moment the
/// reconciliation exists for. Release builds compile it away.
enum Failpoint {
    #if DEBUG
    /// `name` or `name:probability` (e.g. `after-submit:0.05`: one submit in twenty crashes there).
    private static let setting = ProcessInfo.processInfo.environment["KINSTA_OPSD_FAILPOINT"]
    private static let armed = setting?.split(separator: ":").first.map(String.init)
    private static let probability = setting?.split(separator: ":").dropFirst().first.flatMap { Double($0) } ?? 1
    #endif

    /// With `KINSTA_OPSD_FAILPOINT=stall-poller` (debug builds), the poller's loop stops turning for good after a few
    /// turns, as a wedged loop would: the watchdog pings stop while the socket still answers.
    static func stallIfArmed(_ name: String, afterTurns turns: Int, turn: Int) async {
        #if DEBUG
        guard armed == name, turn >= turns else { return }
        FileHandle.standardError.write(Data("kinsta-opsd: failpoint \(name) hit, the loop stalls\n".utf8))
        while true { try? await Task.sleep(for: .seconds(3600)) }
        #endif
    }

    static func hit(_ name: String) {
        #if DEBUG
        if armed == name, Double.random(in: 0..<1) < probability {
            FileHandle.standardError.write(Data("kinsta-opsd: failpoint \(name) hit, exiting\n".utf8))
            exit(86)
        }
        #endif
    }
}
