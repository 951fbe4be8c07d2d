// Envoy's ext_authz as Istio configures it from meshConfig.extensionProviders:
// what the proxy sends the authorizer, and what the authorizer's answer means
// for the request. Pure; the live proxy (proxy/authorizer.ts) and the static
// runner both use it, so they agree.
import type { ExtAuthzSettings, ExtensionProvider } from "../api/mesh.js";
import type { CheckAnswer } from "../net/ext-authz-grpc.js";
import type { AuthorizerAnswer, CheckInput } from "./facts.js";

const DEFAULTS: ExtAuthzSettings = {
  timeoutMs: 600_000, failOpen: false, statusOnError: 403, includeRequestHeadersInCheck: [], includeAdditionalHeadersInCheck: {},
  headersToUpstreamOnAllow: [], headersToDownstreamOnAllow: [],
};
export const settingsOf = (p: ExtensionProvider): ExtAuthzSettings => p.authz ?? DEFAULTS;

/** Headers Envoy always sends to an HTTP authorizer (besides method and path, which the request line carries). */
const ALWAYS_SENT = ["host", "authorization"];

/** Never copied between a response and a request: they describe one message's framing. */
const FRAMING = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "host", "upgrade", "te", "trailer", "proxy-connection"]);

export interface HttpCheckRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
}

/** The HTTP check request: the original method and path (after `pathPrefix`), the allowed headers, and the additional ones. */
export function httpCheckRequest(p: ExtensionProvider, c: CheckInput): HttpCheckRequest {
  const s = settingsOf(p);
  const headers: Record<string, string> = {};
  for (const name of [...ALWAYS_SENT, ...s.includeRequestHeadersInCheck]) {
    const v = c.headers[name];
    if (v !== undefined) headers[name] = v;
  }
  headers["host"] ??= c.host;
  Object.assign(headers, s.includeAdditionalHeadersInCheck);
  headers["content-length"] = "0";
  return { method: c.method, path: `${s.pathPrefix ?? ""}${c.path}`, headers };
}

const pick = (from: Record<string, string>, names: readonly string[]) =>
  Object.fromEntries(names.filter((n) => from[n] !== undefined).map((n) => [n, from[n]!]));

/** An HTTP authorizer's answer: 200 allows; any other status denies with that status, body and headers. */
export function httpAnswer(p: ExtensionProvider, status: number, headers: Record<string, string>, body: string): AuthorizerAnswer {
  const s = settingsOf(p);
  if (status === 200) {
    return {
      verdict: "allow", upstream: pick(headers, s.headersToUpstreamOnAllow), upstreamRemove: [], downstream: pick(headers, s.headersToDownstreamOnAllow),
      detail: `the HTTP authorizer "${p.name}" answered 200: allowed`,
    };
  }
  const downstream = s.headersToDownstreamOnDeny ? pick(headers, s.headersToDownstreamOnDeny) : Object.fromEntries(Object.entries(headers).filter(([k]) => !FRAMING.has(k)));
  return { verdict: "deny", status, body, upstream: {}, upstreamRemove: [], downstream, detail: `the HTTP authorizer "${p.name}" answered ${status}: denied` };
}

/** A gRPC authorizer's answer: status OK allows (its OK headers go upstream); anything else denies (403 unless it says). */
export function grpcAnswer(p: ExtensionProvider, r: CheckAnswer): AuthorizerAnswer {
  const lower = (hs: [string, string][] = []) => Object.fromEntries(hs.map(([k, v]) => [k.toLowerCase(), v]));
  if (r.code === 0) {
    return {
      verdict: "allow", upstream: lower(r.ok?.headers), upstreamRemove: (r.ok?.headersToRemove ?? []).map((h) => h.toLowerCase()),
      downstream: lower(r.ok?.responseHeadersToAdd), detail: `the gRPC authorizer "${p.name}" answered OK: allowed`,
    };
  }
  const status = r.denied?.status || 403;
  return {
    verdict: "deny", status, body: r.denied?.body ?? "", upstream: {}, upstreamRemove: [], downstream: lower(r.denied?.headers),
    detail: `the gRPC authorizer "${p.name}" answered status ${r.code}${r.message ? ` (${r.message})` : ""}: denied with ${status}`,
  };
}

/** The authorizer could not be asked (unreachable, timed out, broken answer): failOpen lets the request through, else statusOnError. */
export function errorAnswer(p: ExtensionProvider, why: string): AuthorizerAnswer {
  const s = settingsOf(p);
  if (s.failOpen) return { verdict: "allow", upstream: {}, upstreamRemove: [], downstream: {}, detail: `the authorizer "${p.name}" could not be asked (${why}); failOpen lets the request through` };
  return { verdict: "error", status: s.statusOnError, body: "", upstream: {}, upstreamRemove: [], downstream: {}, detail: `the authorizer "${p.name}" could not be asked (${why}); denied with ${s.statusOnError} (fail closed)` };
}

/** `service` of a provider as a host name: "ns/host" names the namespace; a short name stays as written. */
export function providerHost(p: ExtensionProvider): string {
  const svc = p.service ?? "";
  const slash = svc.indexOf("/");
  return slash < 0 ? svc : svc.slice(slash + 1);
}
