// The proxy's well-known ports, numbered as Istio numbers Envoy's: declared once for the sidecar that listens on
// them and the node agent whose capture rules send traffic there (or leave it alone).
export const OUTBOUND_PORT = 15001;
/** Where a pod's captured inbound connections arrive. */
export const CAPTURE_INBOUND_PORT = 15006;
/** Where Envoy serves its Prometheus stats in Istio; here on the workload's own address. */
export const STATS_PORT = 15090;
/** Inbound ports a pod's capture never takes: stats, and Istio's merged-metrics and health ports, kept free as in Istio. */
export const UNCAPTURED_INBOUND_PORTS: readonly number[] = [STATS_PORT, 15020, 15021];
