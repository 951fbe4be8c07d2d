// The dashboard's calls to its own server (src/dashboard/server.ts), which answers from the control plane's admin
// API. The shapes are the admin API's; only the fields the pages read are declared.

export interface GraphNode { id: string; kind: "workload" | "service" | "unknown"; namespace?: string; status?: string | null }
export interface GraphEdge { source: string; target: string; protocol: string; total: number; errors: number; rate: number | null; errorRate: number | null; mtls: boolean }
export interface Graph { nodes: GraphNode[]; edges: GraphEdge[]; windowSeconds: number }

export interface WorkloadRow { id: string; owner: string; namespace: string; spiffe: string; sidecar: boolean; gateway: boolean; status: string | null }

export interface Step { stage: string; at: string; message: string; policy?: string; rule?: string; shadow?: boolean }

export interface WorkloadView {
  id: string; owner: string; namespace: string; serviceAccount: string; spiffe: string; labels: Record<string, string>; sidecar: boolean; gateway: boolean;
  services: { host: string; port: number; protocol: string }[];
  scope: { sidecar?: string; why: string; outbound: { mode: string; from: string }; ingressPorts: number[] };
  mtls: { port: number; mode: string; from: string[] }[];
  authorization: { policy: string; action: string; provider?: string; dryRun: boolean; spec: unknown }[];
  requestAuthentication: { policy: string; rule: string; issuer: string }[];
  egress: { host: string; port: number; source: string; external: boolean; visible: boolean; why: string }[];
  proxy: { status: string; connected: boolean; listeners: Record<string, string>; outbound: string | null; stats: string | null; sent: number | null; acked: number | null; certificate: { serial: string; notAfter: string } | null } | null;
}

export interface Denial {
  time: string; proxy: string; direction: string; peer?: string; method: string; host: string; port: number; path: string;
  code?: string; reason: string; policy?: string; rule?: string; answer: string; trail: Step[]; count: number; first: string; last: string;
}

export interface EgressAlert { time: string; proxy: string; host: string; port: number; protocol: string; count: number; reason: string; policy?: string; first: string; last: string }
export interface DeliveryFailure { time: string; receiver: string; attempts: number; error: string; text: string }

export interface Decision {
  allow: boolean; reason: string; code?: string; policy?: string; rule?: string; trail: Step[];
  outcome: { kind: string; status?: number; error?: string; address?: string; port?: number; host?: string };
}

export interface CheckForm { from: string; via?: string; to: string; method: string; headers: string[] }

/** The session's token: from the URL zeromesh dashboard printed (#token=…), then kept for this tab. */
export function sessionToken(): string {
  const m = /^#token=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("zeromesh-session", m[1]!);
    // Out of the address bar and the history, onto the first page.
    history.replaceState(null, "", "#/graph");
  }
  return sessionStorage.getItem("zeromesh-session") ?? "";
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const r = await fetch(`/api/${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), "x-zeromesh-session": sessionToken() } });
  const body = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
  return body;
}

export const api = {
  graph: () => call<Graph>("graph"),
  workloads: () => call<WorkloadRow[]>("workloads"),
  workload: (id: string) => call<WorkloadView>(`workload?id=${encodeURIComponent(id)}`),
  denials: () => call<Denial[]>("denials"),
  alerts: () => call<EgressAlert[]>("alerts"),
  deliveries: () => call<DeliveryFailure[]>("alert-deliveries"),
  check: (q: CheckForm) => call<Decision>("check", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(q) }),
};
