// Cluster IPs, as kube-proxy serves them, inside each pod: a connection to a Service's address and port is sent
// (DNAT) to one of its ready endpoints, chosen at random. Installed in the pod's own nat OUTPUT after the capture,
// so an application with a sidecar is still captured first (its sidecar sees the cluster IP and routes by it),
// while the sidecar's own passthrough to a cluster IP (ALLOW_ANY, or a Service outside its Sidecar scope) and a
// pod without a sidecar reach an endpoint, as through kube-proxy on the node. Pure: the rules as text.
import { isIPv4 } from "node:net";
import type { EndpointTable } from "../wire/protocol.js";
import type { Registry } from "../registry/registry.js";

export const SERVICES_CHAIN = "ZM_SERVICES";

/** The jump into the chain, made once when the pod is created (after its capture rules). */
export const servicesJump = (): string => ["*nat", `:${SERVICES_CHAIN} - [0:0]`, `-A OUTPUT -p tcp -j ${SERVICES_CHAIN}`, "COMMIT", ""].join("\n");

/** The chain's whole content for `iptables-restore --noflush` (declaring the chain flushes it): every Service port with an endpoint. */
export function serviceRules(reg: Registry, endpoints: EndpointTable): string {
  const lines = ["*nat", `:${SERVICES_CHAIN} - [0:0]`];
  for (const s of reg.services) {
    if (!s.source.startsWith("Service/")) continue;
    for (const address of s.addresses) {
      for (const sp of s.ports) {
        // IPv4 endpoints only (pods are IPv4): anything else would make the whole table unloadable.
        const at = reg.endpoints(s, sp).map((e) => endpoints[e.workload.id]?.[String(e.port)]).filter((a): a is string => !!a && /:\d+$/.test(a) && isIPv4(a.slice(0, a.lastIndexOf(":")))).sort();
        at.forEach((to, i) => {
          // Each endpoint takes its share of what the ones before it left: 1/n, 1/(n-1), …, the last all the rest.
          const left = at.length - i;
          const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(5)}` : "";
          lines.push(`-A ${SERVICES_CHAIN} -d ${address}/32 -p tcp --dport ${sp.port}${pick} -j DNAT --to-destination ${to}`);
        });
      }
    }
  }
  lines.push("COMMIT", "");
  return lines.join("\n");
}
