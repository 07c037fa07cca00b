import CAPICore
import ConnectorRuntime
import GraphAPI
import Metrics

/// Declares the sidecar's (and a long-running `flush`'s) metric series at start-up, at zero, for every configured pixel and
/// source: a dashboard or alert on a series that does not exist yet sees "no data", not 0
/// (Prometheus' advice), and `capi_build_info` says which build is running.
///
/// The labels are exactly those the code increments later; refused events of unknown pixels count
/// under `pixel_id="unconfigured"` and are not declared ahead. `capi_events_pulled_total` is the
/// pull job's, declared here too so that one scrape of the sidecar shows every series the
/// contract names (at 0: a sidecar pulls nothing).
public enum PushMetrics {
    public static func declare(pixels: [String], sources: [String]) {
        Gauge(label: "capi_build_info", dimensions: [("version", BuildInfo.version)]).record(1)
        _ = Counter(label: "capi_events_resent_total")
        _ = Counter(label: "capi_requests_refused_total", dimensions: [("reason", "ip_not_allowed")])
        // The per-event counters are declared by `IngestMetrics`, which the server keeps.
        for pixel in pixels {
            _ = Counter(label: "capi_events_forwarded_total", dimensions: [("pixel_id", pixel)])
            _ = Counter(label: "capi_events_unconfirmed_total", dimensions: [("pixel_id", pixel)])
            _ = Counter(label: "capi_meta_messages_total", dimensions: [("pixel_id", pixel)])
            _ = Counter(label: "capi_events_pulled_total", dimensions: [("pixel_id", pixel)])
            _ = Recorder(label: "capi_forward_batch_size", dimensions: [("pixel_id", pixel)])
            for errorClass in GraphErrorClass.allCases {
                _ = Counter(label: "capi_retries_total", dimensions: [("pixel_id", pixel), ("class", errorClass.rawValue)])
            }
            // `configuration` is a pixel no longer in the manifest: never one of these.
            for deadLetterClass in DeadLetterClass.allCases where deadLetterClass != .configuration {
                _ = Counter(label: "capi_events_dead_lettered_total", dimensions: [("pixel_id", pixel), ("class", deadLetterClass.rawValue)])
            }
        }
        for source in sources {
            for failure in SignatureFailure.allCases {
                _ = Counter(label: "capi_signature_failures_total", dimensions: [("reason", failure.rawValue), ("source", source)])
            }
        }
        _ = Counter(label: "capi_signature_failures_total", dimensions: [("reason", "bad_ingest_token"), ("source", "graph_compatible")])
    }
}
