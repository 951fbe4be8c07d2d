// Field readers shared by several Istio kinds.
import { checkHost } from "../host.js";
import { PROTOCOLS } from "../protocol.js";
import type { Reader } from "../reader.js";
import type { Protocol } from "../types.js";
import { checkNamespaceName } from "./meta.js";

export function readProtocol(r: Reader, required = true): Protocol | undefined {
  const s = r.string({ required });
  if (s === undefined) return undefined;
  const p = s.toUpperCase() as Protocol;
  if (!PROTOCOLS.includes(p)) {
    r.error(`must be one of ${PROTOCOLS.join(", ")}, got "${s}"`);
    return undefined;
  }
  return p;
}

/** A host that may be a short Kubernetes name ("reviews"), an FQDN or a wildcard. */
export function readHostList(r: Reader, opts: { required?: boolean; wildcard?: boolean } = {}): string[] {
  const hosts = opts.required ? r.nonEmptyStrings() : r.strings();
  hosts.forEach((h, i) => {
    const err = checkHost(h, { wildcard: opts.wildcard });
    if (err) r.error(err, `${r.path}[${i}]`);
  });
  return hosts;
}

/** `namespace/host` as used by Gateway servers and Sidecar egress. */
export function splitNsHost(raw: string): { namespace: string; host: string } | undefined {
  const i = raw.indexOf("/");
  if (i < 0) return undefined;
  return { namespace: raw.slice(0, i), host: raw.slice(i + 1) };
}

export function checkNsPart(ns: string, allowed: readonly string[]): string | undefined {
  if (allowed.includes(ns)) return undefined;
  if (checkNamespaceName(ns)) return `namespace "${ns}" must be ${allowed.map((a) => `"${a}"`).join(", ")} or a namespace name`;
  return undefined;
}

/** An HTTP header name: an RFC 9110 token (no pseudo-headers such as ":authority"). */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Durations like "1.5s", "200ms", "1m" (and proto3 JSON's "2.000000005s") → milliseconds. */
export function readDuration(r: Reader): number | undefined {
  const s = r.string();
  if (s === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(s);
  if (!m) {
    r.error(`must be a duration such as "500ms" or "5s", got "${s}"`);
    return undefined;
  }
  const n = Number(m[1]);
  return n * ({ ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[m[2] as "ms"];
}

/** Istio's ValidateDuration: at least 1ms, to the millisecond. */
export function readMsDuration(r: Reader): number | undefined {
  const ms = readDuration(r);
  if (ms === undefined) return undefined;
  if (ms < 1) r.error("duration must be greater than 1ms");
  else if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) r.error("only durations to ms precision are supported");
  return ms;
}
