// What the control plane accepts from a peer, bounded and checked before use:
// request bodies by size, JSON parsed where a failure is an answer (not a
// crash), and each message on a proxy's stream checked field by field.
import { Codes, ZmError } from "../api/errors.js";

export const LIMITS = {
  /** An apply of many manifests; the largest a legitimate configuration reaches by far. */
  applyBytes: 16 * 1024 * 1024,
  /** A CSR. */
  csrBytes: 64 * 1024,
  /** One message on a proxy's stream (acks, hello, blocked-egress reports of at most 256 destinations). */
  proxyLineBytes: 1024 * 1024,
  /** Headers of an admin request must arrive within this. */
  headersMs: 10_000,
  /** A whole admin request (a sync waits up to maxSyncWaitMs). */
  adminRequestMs: 120_000,
  maxSyncWaitMs: 60_000,
  /** Connections to the proxies' endpoint: one per proxy and a few in rotation, for meshes of thousands. */
  proxyConnections: 16_384,
  /** Connections to the proxies' endpoint without a mesh certificate (bootstrapping proxies), in all and from one address, and how long each may stay (control/admission.ts). */
  unauthenticated: 1024,
  unauthenticatedPerSource: 128,
  unauthenticatedMs: 30_000,
  /** Connections to the admin API (the CLI, the dashboard, scripts). */
  adminConnections: 256,
  /** A proxy's TLS connection with nothing on it (a proxy's stream carries a keepalive at least every KEEPALIVE_MS). */
  idleMs: 5 * 60_000,
} as const;

/** A stream's body as text, refused (ZM_REQUEST_TOO_LARGE) past `limit` bytes without reading the rest. */
export function readBody(s: NodeJS.ReadableStream & { destroy?: () => void }, limit: number, declared?: string | number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (declared !== undefined && Number(declared) > limit) return reject(tooLarge(limit));
    const chunks: Buffer[] = [];
    let size = 0;
    s.on("data", (c: Buffer | string) => {
      const b = typeof c === "string" ? Buffer.from(c) : c;
      size += b.length;
      if (size > limit) {
        s.removeAllListeners("data");
        s.pause();
        return reject(tooLarge(limit));
      }
      chunks.push(b);
    });
    s.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    s.on("error", reject);
  });
}

const tooLarge = (limit: number) => new ZmError(Codes.TOO_LARGE, `the request body is larger than ${limit} bytes`);

/** A JSON object body; anything else is ZM_BAD_MESSAGE. */
export async function readJson<T extends object>(s: NodeJS.ReadableStream & { headers?: Record<string, unknown> }, limit: number): Promise<Partial<T>> {
  return parseJsonObject<T>(await readBody(s, limit, s.headers?.["content-length"] as string | undefined));
}

/** A body already read, as a JSON object; anything else is ZM_BAD_MESSAGE. */
export function parseJsonObject<T extends object>(text: string): Partial<T> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ZmError(Codes.BAD_MESSAGE, "the request body is not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ZmError(Codes.BAD_MESSAGE, "the request body is not a JSON object");
  return v as Partial<T>;
}

/** How often a proxy with nothing else to say sends a keepalive on its stream, well within LIMITS.idleMs. */
export const KEEPALIVE_MS = 60_000;

/** The messages a proxy sends on its stream. */
export type ProxyMessage =
  | { type: "hello"; listeners: Record<string, string>; outbound?: string; stats?: string }
  | { type: "ack"; version: number }
  | { type: "nack"; version: number; error: string }
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

/** The message, typed, or why it is not one. */
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
      return Number.isSafeInteger(r.version) ? { type: "nack", version: r.version as number, error: String(r.error ?? "").slice(0, 2000) } : "nack without a version";
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
