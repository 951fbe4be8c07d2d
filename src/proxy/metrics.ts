// Istio's standard metrics, kept by each proxy and served in Prometheus's
// text format (as Envoy serves them on :15090/stats/prometheus): requests and
// their durations for HTTP, connections opened and closed for TCP. Series are
// keyed by a label set rendered once per peer pair (see metric-labels.ts) and
// then by response code, so a request costs two map lookups and no string
// building. Telemetry's overrides decide, per side, which are kept.
import type { KeptMetric, Side } from "../policy/telemetry.js";

/** Istio's buckets for istio_request_duration_milliseconds. */
export const DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

interface RequestSeries {
  /** REQUEST_COUNT. */
  count: number;
  /** REQUEST_DURATION: observations, their sum, and per bucket (not cumulative; summed when rendered). */
  observed: number;
  sumMs: number;
  buckets: number[];
}

interface TcpSeries {
  opened: number;
  closed: number;
}

type Kept = Record<KeptMetric, boolean>;
const ALL: Kept = { REQUEST_COUNT: true, REQUEST_DURATION: true, TCP_OPENED_CONNECTIONS: true, TCP_CLOSED_CONNECTIONS: true };

export class ProxyMetrics {
  /** Rendered peer labels → response code → series. */
  private readonly requests = new Map<string, Map<number, RequestSeries>>();
  private readonly tcp = new Map<string, TcpSeries>();
  /** Which metrics each side reports (Telemetry overrides); all until a configuration says otherwise. */
  private kept: Record<Side, Kept> = { CLIENT: ALL, SERVER: ALL };

  keep(client: Kept, server: Kept): void {
    this.kept = { CLIENT: client, SERVER: server };
  }

  /** One HTTP request or gRPC call, answered with `code` (0: no response) after `ms`. */
  request(side: Side, labels: string, code: number, ms: number): void {
    const kept = this.kept[side];
    if (!kept.REQUEST_COUNT && !kept.REQUEST_DURATION) return;
    let byCode = this.requests.get(labels);
    if (!byCode) this.requests.set(labels, (byCode = new Map()));
    let s = byCode.get(code);
    if (!s) byCode.set(code, (s = { count: 0, observed: 0, sumMs: 0, buckets: new Array<number>(DURATION_BUCKETS_MS.length + 1).fill(0) }));
    if (kept.REQUEST_COUNT) s.count++;
    if (!kept.REQUEST_DURATION) return;
    s.observed++;
    s.sumMs += ms;
    let i = 0;
    while (i < DURATION_BUCKETS_MS.length && ms > DURATION_BUCKETS_MS[i]!) i++;
    s.buckets[i]!++;
  }

  tcpOpened(side: Side, labels: string): void {
    if (this.kept[side].TCP_OPENED_CONNECTIONS) this.tcpSeries(labels).opened++;
  }

  tcpClosed(side: Side, labels: string): void {
    if (this.kept[side].TCP_CLOSED_CONNECTIONS) this.tcpSeries(labels).closed++;
  }

  private tcpSeries(labels: string): TcpSeries {
    let s = this.tcp.get(labels);
    if (!s) this.tcp.set(labels, (s = { opened: 0, closed: 0 }));
    return s;
  }

  /** Prometheus text exposition format (version 0.0.4). */
  render(): string {
    const out: string[] = [];
    out.push("# HELP istio_requests_total Requests handled by the proxy, by peers and response code.", "# TYPE istio_requests_total counter");
    for (const [labels, byCode] of this.requests) for (const [code, s] of byCode) if (s.count) out.push(`istio_requests_total{${labels},response_code="${code}"} ${s.count}`);
    out.push("# HELP istio_request_duration_milliseconds Time from the request's arrival to its response's end.", "# TYPE istio_request_duration_milliseconds histogram");
    for (const [labels, byCode] of this.requests) {
      for (const [code, s] of byCode) {
        if (!s.observed) continue;
        const l = `${labels},response_code="${code}"`;
        let cumulative = 0;
        DURATION_BUCKETS_MS.forEach((le, i) => {
          cumulative += s.buckets[i]!;
          out.push(`istio_request_duration_milliseconds_bucket{${l},le="${le}"} ${cumulative}`);
        });
        out.push(`istio_request_duration_milliseconds_bucket{${l},le="+Inf"} ${s.observed}`);
        out.push(`istio_request_duration_milliseconds_sum{${l}} ${s.sumMs}`);
        out.push(`istio_request_duration_milliseconds_count{${l}} ${s.observed}`);
      }
    }
    out.push("# HELP istio_tcp_connections_opened_total TCP connections the proxy opened or accepted, by peers.", "# TYPE istio_tcp_connections_opened_total counter");
    for (const [labels, s] of this.tcp) if (s.opened) out.push(`istio_tcp_connections_opened_total{${labels}} ${s.opened}`);
    out.push("# HELP istio_tcp_connections_closed_total TCP connections closed, by peers.", "# TYPE istio_tcp_connections_closed_total counter");
    for (const [labels, s] of this.tcp) if (s.closed) out.push(`istio_tcp_connections_closed_total{${labels}} ${s.closed}`);
    return out.join("\n") + "\n";
  }
}
