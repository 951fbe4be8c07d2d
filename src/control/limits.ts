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
