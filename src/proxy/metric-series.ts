// Which metric series a request or connection counts in: the label set for
// its pair of peers, built from the proxy's configuration once per pair and
// configuration (ctx.metricLabels caches the rendered text).
import { DenyCodes, type Decision } from "../policy/decision.js";
import type { Peer } from "../policy/inbound.js";
import { Registry } from "../registry/registry.js";
import type { ProxyContext } from "./context.js";
import { inboundLabels, outboundLabels, type PeerLabels } from "./metric-labels.js";
import type { ProxyState } from "./state.js";

/** The metric labels of an outbound request or connection: to the workload the decision chose, else to the host (BlackHoleCluster when REGISTRY_ONLY blocked it). */
export function outboundSeries(ctx: ProxyContext, state: ProxyState, d: Decision, host: string, protocol: PeerLabels["request_protocol"]): string {
  const o = d.outcome;
  const to = o.kind === "forward" ? o.workload : undefined;
  const blocked = d.code === DenyCodes.REGISTRY_ONLY;
  const service = blocked ? "BlackHoleCluster" : o.kind === "forward" && o.host ? o.host : host;
  return ctx.metricLabels(`out ${protocol} ${to ?? ""} ${service}`, () => {
    const reg = Registry.of(state.snapshot);
    const name = blocked ? service : serviceName(reg, service, state.workload.namespace, to !== undefined);
    return outboundLabels(state.workload, to ? reg.workload(to) : undefined, name, protocol);
  });
}

/**
 * Istio names the service by its hostname ("web.b" as called is web.b.svc.cluster.local); a wildcard ServiceEntry
 * host stays as called; a host outside the registry is the PassthroughCluster (one series, not one per host).
 */
function serviceName(reg: Registry, called: string, namespace: string, toWorkload: boolean): string {
  const named = reg.lookup(called, namespace)[0]?.hostname;
  if (named) return named.startsWith("*") ? called : named;
  return toWorkload ? called : "PassthroughCluster";
}

/** The metric labels of an inbound request or connection: from the caller's mTLS identity, to this workload's service on `port`. */
export function inboundSeries(ctx: ProxyContext, state: ProxyState, peer: Peer | undefined, port: number, protocol: PeerLabels["request_protocol"]): string {
  return ctx.metricLabels(`in ${protocol} ${peer?.spiffe ?? ""} ${port}`, () =>
    inboundLabels(state.workload, peer?.spiffe, Registry.of(state.snapshot).servicesOf(state.workload, port)[0]?.service.hostname, protocol));
}
