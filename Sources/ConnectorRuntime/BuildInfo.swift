/// What this build is, for `capi_build_info` and `--version`.
public enum BuildInfo {
    public static let version = "0.3.0"
}
