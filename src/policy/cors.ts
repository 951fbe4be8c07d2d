// A route's corsPolicy, as Envoy's CORS filter applies it: a preflight from an
// allowed origin is answered by the proxy; an actual request from one gets
// the CORS response headers on its answer. Pure.
import { matchString } from "../api/match.js";
import type { CorsPolicy, HeaderOperations } from "../api/types.js";

export type CorsVerdict =
  /** Answer here, 200, with these headers (none for an ignored preflight). */
  | { kind: "answer"; headers: Record<string, string>; reason: string }
  /** Forward, adding these to the response. */
  | { kind: "decorate"; response: HeaderOperations; reason: string }
  /** Not a CORS request this policy speaks to: forward untouched. */
  | { kind: "pass"; reason?: string };

export function corsVerdict(policy: CorsPolicy, method: string, headers: Readonly<Record<string, string>>): CorsVerdict {
  const origin = headers.origin;
  if (!origin) return { kind: "pass" };
  const allowed = policy.allowOrigins.some((m) => matchString(m, origin));
  const preflight = method === "OPTIONS" && headers["access-control-request-method"] !== undefined;
  if (!allowed) {
    if (preflight && policy.unmatchedPreflights === "IGNORE") return { kind: "answer", headers: {}, reason: `preflight from ${origin}, an origin not allowed, answered without CORS headers (unmatchedPreflights IGNORE)` };
    return { kind: "pass", reason: `origin ${origin} is not allowed: no CORS headers` };
  }
  const credentials: Record<string, string> = policy.allowCredentials ? { "access-control-allow-credentials": "true" } : {};
  if (preflight) {
    const h: Record<string, string> = { "access-control-allow-origin": origin, ...credentials };
    if (policy.allowMethods.length) h["access-control-allow-methods"] = policy.allowMethods.join(",");
    if (policy.allowHeaders.length) h["access-control-allow-headers"] = policy.allowHeaders.join(",");
    if (policy.maxAgeSeconds !== undefined) h["access-control-max-age"] = String(policy.maxAgeSeconds);
    return { kind: "answer", headers: h, reason: `preflight from allowed origin ${origin} answered by the proxy` };
  }
  const set: Record<string, string> = { "access-control-allow-origin": origin, ...credentials };
  if (policy.exposeHeaders.length) set["access-control-expose-headers"] = policy.exposeHeaders.join(",");
  return { kind: "decorate", response: { set, add: {}, remove: [] }, reason: `request from allowed origin ${origin}: CORS headers on the answer` };
}
