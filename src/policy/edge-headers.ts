// What Envoy does to a request at the mesh's edge (a gateway, with
// use_remote_address: true): the client may not speak for the mesh, so its
// own identity and Envoy headers go, and X-Forwarded-For gets the address
// that actually connected.
import type { Walk } from "./context.js";
import type { Arrival } from "./inbound.js";

/**
 * Rewrites `headers` in place for a request arriving at a gateway from `peer`
 * and returns the client address policy should see (remote.ip). The client's
 * X-Forwarded-Client-Cert is always dropped; `external` (not over mesh mTLS)
 * also drops every x-envoy-* header and sets x-envoy-external-address.
 * `numTrustedProxies` (meshConfig gatewayTopology) counts the proxies in
 * front whose X-Forwarded-For entries are believed: with 0, only the peer.
 */
export function edgeHeaders(headers: Record<string, string>, peer: string | undefined, numTrustedProxies: number, external: boolean): string | undefined {
  delete headers["x-forwarded-client-cert"];
  if (external) for (const k in headers) if (k.startsWith("x-envoy-")) delete headers[k];
  const hops = (headers["x-forwarded-for"] ?? "").split(",").map((h) => h.trim()).filter(Boolean);
  if (peer) hops.push(peer);
  if (hops.length) headers["x-forwarded-for"] = hops.join(", ");
  // Envoy's xff_num_trusted_hops: the entry N from the right of the appended list (N = 0: the peer itself).
  const remote = hops[Math.max(0, hops.length - 1 - numTrustedProxies)];
  if (external && remote) headers["x-envoy-external-address"] = remote;
  return remote;
}

/**
 * The static walk's edge step at a gateway (the live gateway applies edgeHeaders to the request it forwards before
 * it decides): the request goes on with the edge's headers, and the arrival with the client address policy sees.
 */
export function atTheEdge(walk: Walk, arrival: Arrival): Arrival {
  if (walk.env.scope === "hop" || walk.req.scheme === "tcp" || walk.req.method === "CONNECT") return arrival;
  const headers = { ...walk.req.headers };
  const trusted = walk.index.snapshot.mesh.defaultConfig.gatewayTopology?.numTrustedProxies ?? 0;
  const remoteIp = edgeHeaders(headers, arrival.sourceIp, trusted, !arrival.mtlsFrom);
  walk.req = { ...walk.req, headers };
  return { ...arrival, remoteIp };
}
