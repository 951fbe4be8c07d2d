// Gateway server selection on a gateway workload: which servers listen on a
// port, which one an SNI picks, and which VirtualServices bind to them.
import { hostMatches, hostWithoutPort, hostsOverlap, narrowerHost } from "../api/host.js";
import { isHttp } from "../api/protocol.js";
import { selectorMatches } from "../api/match.js";
import type { Gateway, GatewayServer, VirtualService } from "../api/types.js";
import type { Workload } from "../registry/model.js";
import type { PolicyIndex } from "./index.js";
import { vsGateways, vsHosts } from "./routing.js";

export interface BoundServer {
  gateway: Gateway;
  server: GatewayServer;
}

export const serverName = (b: BoundServer) =>
  `Gateway/${b.gateway.meta.namespace}/${b.gateway.meta.name} servers[${b.server.index}]${b.server.port.name ? ` (${b.server.port.name})` : ""}`;

export type ServerKind = "http" | "https-terminate" | "tls-terminate" | "passthrough" | "tcp";

export function serverKind(s: GatewayServer): ServerKind {
  const p = s.port.protocol;
  if (isHttp(p)) return "http";
  if (p === "HTTPS" || p === "TLS") {
    const mode = s.tls?.mode ?? "PASSTHROUGH";
    if (mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH") return "passthrough";
    return p === "HTTPS" ? "https-terminate" : "tls-terminate";
  }
  return "tcp";
}

/** Servers of every Gateway selecting the workload, listening on the Service port (or the pod port). */
export function serversOn(index: PolicyIndex, gw: Workload, servicePort: number, targetPort: number): BoundServer[] {
  const out: BoundServer[] = [];
  for (const g of index.gateways) {
    if (!selectorMatches(g.selector, gw.labels) || Object.keys(g.selector).length === 0) continue;
    for (const s of g.servers) if (s.port.number === servicePort || s.port.number === targetPort) out.push({ gateway: g, server: s });
  }
  return out;
}

function hostAllowsVs(h: GatewayServer["hosts"][number], gateway: Gateway, vs: VirtualService): boolean {
  if (h.namespace === "*") return true;
  if (h.namespace === ".") return vs.meta.namespace === gateway.meta.namespace;
  return vs.meta.namespace === h.namespace;
}

export interface VirtualHost {
  domain: string;
  vs: VirtualService;
  bound: BoundServer;
}

/** VirtualServices bound to one server, each with the host it serves there. */
export function virtualHosts(index: PolicyIndex, bound: BoundServer): VirtualHost[] {
  const ref = `${bound.gateway.meta.namespace}/${bound.gateway.meta.name}`;
  const out: VirtualHost[] = [];
  for (const vs of index.virtualServices) {
    if (!vsGateways(vs).includes(ref)) continue;
    for (const vh of vsHosts(vs)) {
      for (const sh of bound.server.hosts) {
        if (hostAllowsVs(sh, bound.gateway, vs) && hostsOverlap(sh.host, vh)) out.push({ domain: narrowerHost(sh.host, vh), vs, bound });
      }
    }
  }
  return out;
}

/** Envoy's virtual host choice: exact domain, then the longest wildcard suffix, then "*". */
export function pickVirtualHost(vhosts: VirtualHost[], authority: string): VirtualHost | undefined {
  const host = hostWithoutPort(authority);
  const exact = vhosts.find((v) => v.domain === host);
  if (exact) return exact;
  const wild = vhosts
    .filter((v) => v.domain !== "*" && hostMatches(v.domain, host))
    .sort((a, b) => b.domain.length - a.domain.length);
  return wild[0] ?? vhosts.find((v) => v.domain === "*");
}

/** The server an SNI selects among TLS servers on one port: exact, then longest wildcard, then "*". */
export function pickServerBySni(servers: BoundServer[], sni: string): BoundServer | undefined {
  let best: { b: BoundServer; score: number } | undefined;
  for (const b of servers) {
    for (const h of b.server.hosts) {
      if (!hostMatches(h.host, sni)) continue;
      const score = h.host === sni ? 1e6 : h.host === "*" ? 0 : h.host.length;
      if (!best || score > best.score) best = { b, score };
    }
  }
  return best?.b;
}

/** Does any of the server's hosts cover the request's host? */
export function serverServesHost(s: GatewayServer, host: string): boolean {
  return s.hosts.some((h) => hostMatches(h.host, hostWithoutPort(host)));
}
