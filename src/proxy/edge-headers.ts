// What Envoy does to a request at the mesh's edge (a gateway, with
// use_remote_address: true): the client may not speak for the mesh, so its
// own identity and Envoy headers go, and X-Forwarded-For gets the address
// that actually connected.

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
