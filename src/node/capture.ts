// Transparent capture of a pod's TCP traffic, as istio-iptables sets it up (Istio's tools/istio-iptables): what
// arrives goes to the sidecar's inbound port, what the application sends goes to its outbound port, and the
// sidecar's own traffic (its UID and GID, Istio's 1337) goes where it was sent. Pure: the rules as text for
// `iptables-restore`, and the commands that install and remove them inside the pod's network namespace.

export interface CaptureOptions {
  /** The sidecar's inbound port (Istio's 15006). */
  inboundPort: number;
  /** The sidecar's outbound port (Istio's 15001). */
  outboundPort: number;
  /** The sidecar's UID and GID: its own connections are never captured. */
  proxyUid: number;
  proxyGid: number;
  /** Inbound ports left alone (the proxy's own: stats 15090, health 15021, 15020, and its listeners). */
  excludeInboundPorts: number[];
  /** Destinations the application reaches directly, "ADDR:PORT" (the pod's DNS server over TCP). */
  excludeOutbound: { address: string; port: number }[];
  /**
   * Istio's DNS capture: the application's queries to `nameserver`:53 go to `port` there instead (the DNS proxy's
   * view, where ServiceEntry hosts have addresses); the proxy's own queries reach the cluster DNS as sent.
   */
  dnsProxy?: { nameserver: string; port: number };
}

/** The source address a sidecar delivers inbound traffic from, so that its own delivery is not captured again (Envoy's 127.0.0.6). */
export const INBOUND_PASSTHROUGH_SOURCE = "127.0.0.6";

export const CHAINS = ["ZM_INBOUND", "ZM_IN_REDIRECT", "ZM_OUTPUT", "ZM_REDIRECT", "ZM_DNS"] as const;

/** The nat table for `iptables-restore --noflush`, in Istio's order (each rule's reason beside it). */
export function captureRules(o: CaptureOptions): string {
  const lines = ["*nat", ...CHAINS.map((c) => `:${c} - [0:0]`)];
  const rule = (r: string) => lines.push(r);
  // Inbound: everything to the pod but the proxy's own ports goes to the inbound listener.
  for (const p of [...new Set(o.excludeInboundPorts)].sort((a, b) => a - b)) rule(`-A ZM_INBOUND -p tcp --dport ${p} -j RETURN`);
  rule("-A ZM_INBOUND -p tcp -j ZM_IN_REDIRECT");
  rule(`-A ZM_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${o.inboundPort}`);
  rule("-A PREROUTING -p tcp -j ZM_INBOUND");
  // Outbound: the application's connections go to the outbound listener; the proxy's own do not.
  rule("-A OUTPUT -p tcp -j ZM_OUTPUT");
  for (const d of o.excludeOutbound) rule(`-A ZM_OUTPUT -p tcp -d ${d.address}/32 --dport ${d.port} -j RETURN`);
  // The proxy delivering inbound traffic to the application (from 127.0.0.6): not captured again.
  rule(`-A ZM_OUTPUT -o lo -s ${INBOUND_PASSTHROUGH_SOURCE}/32 -j RETURN`);
  for (const [match, id] of [["--uid-owner", o.proxyUid], ["--gid-owner", o.proxyGid]] as const) {
    // The proxy calling its own pod's address (the application calling itself through a Service): inbound side.
    rule(`-A ZM_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner ${match} ${id} -j ZM_IN_REDIRECT`);
    // Anyone else's loopback traffic stays on loopback (the application talking to itself).
    rule(`-A ZM_OUTPUT -o lo -m owner ! ${match} ${id} -j RETURN`);
    rule(`-A ZM_OUTPUT -m owner ${match} ${id} -j RETURN`);
  }
  rule("-A ZM_OUTPUT -d 127.0.0.1/32 -j RETURN");
  rule("-A ZM_OUTPUT -j ZM_REDIRECT");
  rule(`-A ZM_REDIRECT -p tcp -j REDIRECT --to-ports ${o.outboundPort}`);
  if (o.dnsProxy) {
    const ns = o.dnsProxy.nameserver;
    rule(`-A OUTPUT -p udp -d ${ns}/32 --dport 53 -j ZM_DNS`);
    rule(`-A ZM_DNS -m owner --uid-owner ${o.proxyUid} -j RETURN`);
    rule(`-A ZM_DNS -m owner --gid-owner ${o.proxyGid} -j RETURN`);
    rule(`-A ZM_DNS -p udp -j DNAT --to-destination ${ns}:${o.dnsProxy.port}`);
  }
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** The nat table without the capture: the jumps out of PREROUTING and OUTPUT, then the chains (for `iptables-restore --noflush`). */
export function removalRules(o: Pick<CaptureOptions, "dnsProxy"> = {}): string {
  const dns = o.dnsProxy ? [`-D OUTPUT -p udp -d ${o.dnsProxy.nameserver}/32 --dport 53 -j ZM_DNS`] : [];
  return ["*nat", "-D PREROUTING -p tcp -j ZM_INBOUND", "-D OUTPUT -p tcp -j ZM_OUTPUT", ...dns, ...CHAINS.map((c) => `-F ${c}`), ...CHAINS.map((c) => `-X ${c}`), "COMMIT", ""].join("\n");
}
