// The contract between the control plane and its proxies, the one home both
// sides import: who the control plane is (its identity), the endpoints and
// header a proxy calls, the configuration's shape, and every message on the
// config stream (framed by ndjson.ts), checked field by field where the other
// side cannot be trusted.
//
// The stream carries, control plane → proxy, a whole configuration ("config")
// when a stream starts or the proxy's last one is not known to be held, and
// afterwards only what changed ("delta", against the version the proxy
// acknowledged); proxy → control plane, hello, ACK/NACK and reports.
import { X509Certificate } from "node:crypto";
import type { MeshConfig } from "../api/mesh.js";
import type { TrailStep } from "../policy/decision.js";

/** The control plane's own identity's tail (trust domain first): it serves the proxies' endpoint with it. */
export const CONTROL_SPIFFE_SUFFIX = "/ns/istio-system/sa/zeromesh-control";

/** A proxy's certificate request (a CSR; proven by a bootstrap credential or its current certificate). */
export const CERTIFICATE_PATH = "/v1/certificate";
/** A proxy's config stream (opened with its workload certificate). */
export const STREAM_PATH = "/v1/stream";
/** Names the workload instance a certificate-authenticated call speaks for. */
export const WORKLOAD_HEADER = "x-zeromesh-workload";

/** How often a proxy with nothing else to say sends a keepalive on its stream (the control plane closes idle connections after 5 minutes). */
export const KEEPALIVE_MS = 60_000;

/** The SPIFFE URI SAN of a peer certificate, if it has exactly one. */
export function spiffeOf(raw: Buffer | undefined): string | undefined {
  if (!raw?.length) return undefined;
  const san = new X509Certificate(raw).subjectAltName ?? "";
  const uris = san.split(", ").filter((s) => s.startsWith("URI:spiffe://")).map((s) => s.slice(4));
  return uris.length === 1 ? uris[0] : undefined;
}

/** A TLS client's server check toward the control plane: its certificate (chained to the mesh root) must carry the control plane's identity. */
export function checkControlIdentity(_host: string, cert: { raw: Buffer }): Error | undefined {
  return spiffeOf(cert.raw)?.endsWith(CONTROL_SPIFFE_SUFFIX) ? undefined : new Error("the control plane did not present its mesh identity");
}

// ---------- control plane → proxy ----------

/** Where a workload's proxy listens for each workload port ("address:port"), as proxies report it. */
export type EndpointTable = Record<string, Record<string, string>>;

/** One proxy's whole configuration. */
export interface ProxyConfig {
  version: number;
  /** The workload instance this proxy serves, "ns/name". */
  workload: string;
  mesh: MeshConfig;
  /** Kubernetes and Istio documents, as written, that this proxy may see. */
  manifests: unknown[];
  /** Live listeners of the workloads among the manifests. */
  endpoints: EndpointTable;
  /** Names outside the registry this proxy may resolve ("host:port" → "address:port"): cluster DNS and the scenario's outside world. */
  names: Record<string, string>;
  /** Roots trusted when a proxy originates TLS to a host outside the mesh (as an OS trust store would be). */
  outsideRoots?: string;
}

/**
 * What changed between the configuration of version `base`, which the proxy acknowledged on this stream, and that
 * of `version`. A proxy that holds another version refuses it (NACK with `resync`) and is sent the whole one.
 */
export interface ConfigDelta {
  version: number;
  base: number;
  workload: string;
  /** The mesh config, when it changed. */
  mesh?: MeshConfig;
  /** Documents added or changed: each replaces the one of the same kind, namespace and name. */
  upsert: unknown[];
  /** Documents gone, as "Kind/namespace/name" (namespace empty for cluster-scoped kinds). */
  remove: string[];
  /** Endpoints added or changed; null: gone. */
  endpoints: Record<string, Record<string, string> | null>;
  /** Names added or changed; null: gone. */
  names: Record<string, string | null>;
  /** The outside roots, when they changed (null: none now). */
  outsideRoots?: string | null;
}

/** The messages a control plane sends on a proxy's stream. */
export type ControlMessage = { type: "config"; config: ProxyConfig } | { type: "delta"; delta: ConfigDelta };

/** The start of the line that carries a whole configuration; the shared body's members and `}}\n` end it. */
export function configLineStart(version: number, workload: string): string {
  return `{"type":"config","config":{"version":${version},"workload":${JSON.stringify(workload)},`;
}

/** The start of the line that carries a delta; the shared delta's members and `}}\n` end it. */
export function deltaLineStart(version: number, base: number, workload: string): string {
  return `{"type":"delta","delta":{"version":${version},"base":${base},"workload":${JSON.stringify(workload)},`;
}

/** A control plane's message as the proxy takes it, or undefined for anything else (the stream's other lines are ignored). */
export function controlMessage(m: unknown): ControlMessage | undefined {
  const r = m as { type?: unknown; config?: unknown; delta?: unknown } | null;
  if (r?.type === "config" && isObject(r.config) && Array.isArray((r.config as ProxyConfig).manifests)) return r as ControlMessage;
  if (r?.type === "delta" && isObject(r.delta)) {
    const d = r.delta as ConfigDelta;
    if (Number.isSafeInteger(d.version) && Number.isSafeInteger(d.base) && Array.isArray(d.upsert) && Array.isArray(d.remove) && isObject(d.endpoints) && isObject(d.names)) return r as ControlMessage;
  }
  return undefined;
}

const isObject = (v: unknown): v is object => typeof v === "object" && v !== null && !Array.isArray(v);

// ---------- proxy → control plane ----------

/** One kind of refusal a proxy reports (the "denials" message): who, what, the answer, and the decision's trail. */
export interface Denial {
  direction: "inbound" | "outbound" | "gateway";
  /** The caller's identity when known (mTLS peer), else its address. */
  peer?: string;
  method: string;
  host: string;
  port: number;
  /** The first refused request's path of this kind (one example). */
  path: string;
  code?: string;
  reason: string;
  policy?: string;
  rule?: string;
  /** What the client got: "HTTP 403", "reset"… */
  answer: string;
  trail: Pick<TrailStep, "stage" | "at" | "message" | "policy" | "rule">[];
  count: number;
  first: string;
  last: string;
}

/** The messages a proxy sends on its stream. */
export type ProxyMessage =
  | { type: "hello"; listeners: Record<string, string>; outbound?: string; stats?: string }
  | { type: "ack"; version: number }
  /** `resync`: the proxy could not apply a delta to what it holds, and asks for its whole configuration. */
  | { type: "nack"; version: number; error: string; resync?: boolean }
  | { type: "leave" }
  | { type: "keepalive" }
  | { type: "egress-blocked"; destinations?: unknown; dropped?: unknown }
  | { type: "denials"; denials?: unknown; dropped?: unknown };

const ADDRESS = /^[0-9a-fA-F.:[\]]{1,64}:(\d{1,5})$/;
const isPort = (p: string) => /^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535;
/** "ADDR:PORT" with a port a socket can connect to (a proxy that dialled port 99999 would throw). */
const isAddress = (v: unknown) => typeof v === "string" && ADDRESS.test(v) && isPort(ADDRESS.exec(v)![1]!);

/** Where a workload listens, per port: {"8080": "127.1.2.3:8080"}, as hellos and endpoint registrations carry it. */
export function isListenerTable(l: unknown): l is Record<string, string> {
  if (typeof l !== "object" || l === null || Array.isArray(l)) return false;
  const entries = Object.entries(l);
  return entries.length <= 1024 && entries.every(([p, a]) => isPort(p) && isAddress(a));
}

/** A proxy's message, typed, or why it is not one. */
export function checkProxyMessage(m: unknown): ProxyMessage | string {
  if (typeof m !== "object" || m === null || Array.isArray(m)) return "a message that is not a JSON object";
  const r = m as Record<string, unknown>;
  switch (r.type) {
    case "hello": {
      const l = r.listeners;
      if (!isListenerTable(l)) return "hello with listeners that are not {PORT: ADDR:PORT}";
      // A gateway has no outbound listener: "" or absent.
      const optional = (v: unknown) => v === undefined || v === "" || isAddress(v);
      if (!optional(r.outbound) || !optional(r.stats)) return "hello with an outbound or stats address that is not ADDR:PORT";
      return { type: "hello", listeners: l, outbound: (r.outbound as string) || undefined, stats: (r.stats as string) || undefined };
    }
    case "ack":
      return Number.isSafeInteger(r.version) ? { type: "ack", version: r.version as number } : "ack without a version";
    case "nack":
      return Number.isSafeInteger(r.version) ? { type: "nack", version: r.version as number, error: String(r.error ?? "").slice(0, 2000), ...(r.resync === true ? { resync: true } : {}) } : "nack without a version";
    case "leave":
      return { type: "leave" };
    case "keepalive":
      return { type: "keepalive" };
    case "egress-blocked":
      return { type: "egress-blocked", destinations: r.destinations, dropped: r.dropped };
    case "denials":
      return { type: "denials", denials: r.denials, dropped: r.dropped };
    default:
      return `a message of unknown type ${JSON.stringify(String(r.type).slice(0, 40))}`;
  }
}
