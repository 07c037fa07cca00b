import ConnectorRuntime
import Metrics

/// Declares the scheduled poll's metric series at start-up, at zero, for every configured pixel and
/// ad account, as `serve` declares its own: an alert on a series that does not exist yet sees "no
/// data", not 0. Drift alarm series are declared by the drift monitor.
public enum PullMetrics {
    public static func declare(pixels: [String], adAccounts: [String]) {
        Gauge(label: "capi_build_info", dimensions: [("version", BuildInfo.version)]).record(1)
        for pixel in pixels {
            _ = Counter(label: "capi_events_pulled_total", dimensions: [("pixel_id", pixel)])
            _ = Counter(label: "capi_pull_gap_seconds_total", dimensions: [("pixel_id", pixel)])
        }
        for account in adAccounts {
            _ = Counter(label: "capi_insights_rows_pulled_total", dimensions: [("account_id", account)])
        }
    }
}
