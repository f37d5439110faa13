/// The version of the daemon and the CLI (they ship together): `kinsta-opsd --version`, `kinsta-ops --version`,
/// `/v1/health` and the daemon's `User-Agent` to Kinsta.
public enum OpsVersion {
    public static let current = "0.1.0"
}
