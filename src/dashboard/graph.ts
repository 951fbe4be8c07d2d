// The mesh graph, as Kiali draws it from Istio's metrics: workloads (and the
// services outside the mesh they call) as nodes, and an edge for each pair
// that talked, with its request rate, error rate and whether the hop was
// mutual TLS. Read from what the client-side proxies report
// (reporter="source"), which knows both ends; rates are over the samples of
// the last minute, as rate(…[1m]). Pure apart from the samples it is given.
import parsePrometheus from "parse-prometheus-text-format";

export interface GraphNode {
  id: string;
  kind: "workload" | "service" | "unknown";
  namespace?: string;
  /** Sync state of its proxy, when it has one. */
  status?: string | null;
}

export interface GraphEdge {
  source: string;
  target: string;
  protocol: string;
  /** Requests (HTTP, gRPC) or connections (TCP) counted since the proxies started. */
  total: number;
  /** Of those, answered 5xx (or not at all). */
  errors: number;
  /** Per second over the sampled window; null until two samples exist. */
  rate: number | null;
  /** Share of errors over the window (0 to 1); null when nothing was sent in it. */
  errorRate: number | null;
  mtls: boolean;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Seconds the rates are measured over. */
  windowSeconds: number;
}

/** One count of one edge, as read from one scrape of all proxies. */
interface Count {
  source: string;
  target: string;
  targetKind: GraphNode["kind"];
  protocol: string;
  total: number;
  errors: number;
  mtls: boolean;
}

const UNKNOWN = "unknown";

/** The edges in the Prometheus text of the proxies' stats endpoints, summed over proxies. */
export function countsOf(texts: string[]): Map<string, Count> {
  const out = new Map<string, Count>();
  const add = (l: Record<string, string>, value: number, error: boolean, protocol: string) => {
    if (l.reporter !== "source" || !Number.isFinite(value)) return;
    const source = `${l.source_workload_namespace}/${l.source_workload}`;
    const known = l.destination_workload !== undefined && l.destination_workload !== UNKNOWN;
    const target = known ? `${l.destination_workload_namespace}/${l.destination_workload}` : l.destination_service ?? UNKNOWN;
    const key = `${source} ${target} ${protocol}`;
    let c = out.get(key);
    if (!c) out.set(key, (c = { source, target, targetKind: known ? "workload" : target === UNKNOWN ? "unknown" : "service", protocol, total: 0, errors: 0, mtls: false }));
    c.total += value;
    if (error) c.errors += value;
    // The client's proxy expected a mesh identity at the other end: the hop was mutual TLS.
    if (l.destination_principal && l.destination_principal !== UNKNOWN) c.mtls = true;
  };
  for (const text of texts) {
    let families: ReturnType<typeof parsePrometheus>;
    try {
      // The parser drops a last line without its newline.
      families = parsePrometheus(text.endsWith("\n") ? text : `${text}\n`);
    } catch {
      continue; // a proxy mid-restart answers nothing useful: its counts are missing from this sample
    }
    for (const f of families) {
      if (f.name === "istio_requests_total") {
        for (const m of f.metrics) {
          const l = m.labels ?? {};
          const code = Number(l.response_code);
          add(l, Number(m.value), !(code > 0 && code < 500), l.request_protocol ?? "http");
        }
      } else if (f.name === "istio_tcp_connections_opened_total") {
        for (const m of f.metrics) add(m.labels ?? {}, Number(m.value), false, "tcp");
      }
    }
  }
  return out;
}

export interface Sample {
  at: number;
  counts: Map<string, Count>;
}

/** The graph over `workloads` and the samples (oldest first), rates from the oldest to the newest. */
export function graphOf(workloads: GraphNode[], samples: Sample[]): Graph {
  const newest = samples[samples.length - 1];
  const oldest = samples[0];
  const seconds = newest && oldest && newest !== oldest ? (newest.at - oldest.at) / 1000 : 0;
  const nodes = new Map(workloads.map((w) => [w.id, w]));
  const edges: GraphEdge[] = [];
  for (const [key, c] of newest?.counts ?? []) {
    const before = seconds > 0 ? oldest!.counts.get(key) : undefined;
    // A counter that went down belongs to a proxy that restarted: its count starts again from zero.
    const sent = seconds > 0 ? (before && before.total <= c.total ? c.total - before.total : c.total) : 0;
    const failed = seconds > 0 ? (before && before.errors <= c.errors ? c.errors - before.errors : c.errors) : 0;
    edges.push({
      source: c.source, target: c.target, protocol: c.protocol, total: c.total, errors: c.errors, mtls: c.mtls,
      rate: seconds > 0 ? sent / seconds : null,
      errorRate: seconds > 0 && sent > 0 ? failed / sent : null,
    });
    for (const [id, kind] of [[c.source, "workload"], [c.target, c.targetKind]] as const) {
      if (!nodes.has(id)) nodes.set(id, { id, kind, namespace: kind === "workload" ? id.split("/")[0] : undefined });
    }
  }
  return { nodes: [...nodes.values()], edges: edges.sort((a, b) => `${a.source} ${a.target}`.localeCompare(`${b.source} ${b.target}`)), windowSeconds: seconds };
}

/** Keeps the samples of the last `windowMs`, and always the two newest. */
export function keep(samples: Sample[], now: number, windowMs = 60_000): Sample[] {
  const recent = samples.filter((s) => now - s.at <= windowMs);
  return recent.length >= 2 ? recent : samples.slice(-2);
}
