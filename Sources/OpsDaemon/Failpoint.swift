import Foundation

/// Crash points for the reliability tests: with `KINSTA_OPSD_FAILPOINT=after-submit` in a debug build, the daemon
/// exits at once right after Kinsta accepted a submission and before the answer is committed, the moment the
/// reconciliation exists for. Release builds compile it away.
enum Failpoint {
    #if DEBUG
    private static let armed = ProcessInfo.processInfo.environment["KINSTA_OPSD_FAILPOINT"]
    #endif

    static func hit(_ name: String) {
        #if DEBUG
        if armed == name {
            FileHandle.standardError.write(Data("kinsta-opsd: failpoint \(name) hit, exiting\n".utf8))
            exit(86)
        }
        #endif
    }
}
