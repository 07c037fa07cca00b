import ConnectorRuntime
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// `GET /metrics` (Prometheus text) and `GET /healthz` for a process that serves nothing else:
/// the scheduled `poll`, whose counters (`capi_events_pulled_total`, retries, drift alarms) would
/// otherwise be counted and never seen.
enum MetricsEndpoint {
    /// The server as a service; `onListening` receives the bound address (port 0 picks one).
    static func service(
        address: ListenAddress,
        registry: PrometheusCollectorRegistry,
        logger: Logger,
        onListening: @escaping @Sendable (ListenAddress) -> Void
    ) -> some Service {
        let router = Router()
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "capi-connector"),
            onServerRunning: { channel in
                onListening(ListenAddress(host: channel.localAddress?.ipAddress ?? address.host, port: channel.localAddress?.port ?? address.port))
            },
            logger: logger
        )
    }
}
