// VirtualService route matching, shared by sidecars ("mesh") and gateways.
import { hostMatches, hostWithoutPort } from "../api/host.js";
import { matchString, selectorMatches } from "../api/match.js";
import type { HttpMatch, HttpRoute, RouteDestination, TcpRoute, TlsRoute, VirtualService } from "../api/types.js";
import { resolveConfigHost } from "../registry/dns.js";

export const vsName = (vs: VirtualService) => `VirtualService/${vs.meta.namespace}/${vs.meta.name}`;

/** "name" or "ns/name" as written in a VirtualService, made "ns/name" (or "mesh"). */
export function gatewayRef(ref: string, vsNamespace: string): string {
  if (ref === "mesh") return ref;
  return ref.includes("/") ? ref : `${vsNamespace}/${ref}`;
}

export function vsGateways(vs: VirtualService): string[] {
  return vs.gateways.length ? vs.gateways.map((g) => gatewayRef(g, vs.meta.namespace)) : ["mesh"];
}

/** The VirtualService's hosts as FQDNs (short names are relative to its namespace). */
export function vsHosts(vs: VirtualService): string[] {
  return vs.hosts.map((h) => resolveConfigHost(h, vs.meta.namespace));
}

export interface HttpRouteInput {
  /** Host header (authority), possibly with port. */
  authority: string;
  port: number;
  method: string;
  path: string;
  scheme: string;
  headers: Record<string, string>;
  /** "ns/name" of the gateway handling it, or "mesh". */
  gateway: string;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  /** The verified end user's claims at a gateway (RequestAuthentication), for `@request.auth.claims.*` header matches. */
  claims?: Record<string, unknown>;
}

/** Istio's JWT claim routing: a header match on "@request.auth.claims.a.b" matches the claim (any item of a list). */
const CLAIM_HEADER = "@request.auth.claims.";

function headerValues(k: string, r: HttpRouteInput): (string | undefined)[] {
  if (!k.startsWith(CLAIM_HEADER)) return [r.headers[k]];
  let v: unknown = r.claims;
  for (const part of k.slice(CLAIM_HEADER.length).split(".")) v = typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
  const list = Array.isArray(v) ? v : [v];
  const out = list.filter((x) => typeof x === "string" || typeof x === "number" || typeof x === "boolean").map(String);
  return out.length ? out : [undefined];
}

function queryOf(path: string): Record<string, string> {
  const q = path.indexOf("?");
  if (q < 0) return {};
  return Object.fromEntries(new URLSearchParams(path.slice(q + 1)));
}

function httpMatch(m: HttpMatch, r: HttpRouteInput, vsNamespace: string): boolean {
  const path = r.path.split("?")[0]!;
  if (m.uri && !matchString(m.uri, path, m.ignoreUriCase)) return false;
  if (m.method && !matchString(m.method, r.method)) return false;
  if (m.scheme && !matchString(m.scheme, r.scheme)) return false;
  if (m.authority && !matchString(m.authority, r.authority) && !matchString(m.authority, hostWithoutPort(r.authority))) return false;
  if (m.port !== undefined && m.port !== r.port) return false;
  for (const [k, sm] of Object.entries(m.headers)) if (!headerValues(k, r).some((v) => matchString(sm, v))) return false;
  for (const [k, sm] of Object.entries(m.withoutHeaders)) if (headerValues(k, r).some((v) => matchString(sm, v))) return false;
  const q = queryOf(r.path);
  for (const [k, sm] of Object.entries(m.queryParams)) if (!matchString(sm, q[k])) return false;
  if (m.gateways.length && !m.gateways.map((g) => gatewayRef(g, vsNamespace)).includes(r.gateway)) return false;
  if (Object.keys(m.sourceLabels).length && !(r.sourceLabels && selectorMatches(m.sourceLabels, r.sourceLabels))) return false;
  if (m.sourceNamespace && m.sourceNamespace !== r.sourceNamespace) return false;
  return true;
}

/** The first http route whose matches (any of them; none means all) accept the request. */
export function matchHttpRoute(vs: VirtualService, r: HttpRouteInput): { route: HttpRoute; match?: number } | undefined {
  for (const route of vs.http) {
    if (!route.match.length) return { route };
    const i = route.match.findIndex((m) => httpMatch(m, r, vs.meta.namespace));
    if (i >= 0) return { route, match: i };
  }
  return undefined;
}

export function matchTlsRoute(vs: VirtualService, sni: string, port: number, gateway: string): TlsRoute | undefined {
  return vs.tls.find((t) => t.match.some((m) =>
    m.sniHosts.some((h) => hostMatches(resolveConfigHost(h, vs.meta.namespace), sni) || hostMatches(h, sni)) &&
    (m.port === undefined || m.port === port) &&
    (!m.gateways.length || m.gateways.map((g) => gatewayRef(g, vs.meta.namespace)).includes(gateway))));
}

export function matchTcpRoute(vs: VirtualService, port: number, gateway: string): TcpRoute | undefined {
  return vs.tcp.find((t) => !t.match.length || t.match.some((m) =>
    (m.port === undefined || m.port === port) &&
    (!m.gateways.length || m.gateways.map((g) => gatewayRef(g, vs.meta.namespace)).includes(gateway))));
}

/**
 * Picks one weighted destination. `choose` lets the live proxy draw at
 * random; the static engine takes the heaviest (first on ties) so its answer
 * is deterministic and names the split in the trail.
 */
export function pickDestination(dests: RouteDestination[], choose?: (weights: number[]) => number): RouteDestination | undefined {
  if (!dests.length) return undefined;
  if (choose) return dests[choose(dests.map((d) => d.weight))];
  return dests.reduce((best, d) => (d.weight > best.weight ? d : best), dests[0]!);
}
