// Which metric series a request or connection counts in: the label set for
// its pair of peers, built from the proxy's configuration and rendered once
// per pair, protocol and configuration.
import { DenyCodes, type Decision } from "../policy/decision.js";
import type { Peer } from "../policy/inbound.js";
import { Registry } from "../registry/registry.js";
import { inboundLabels, outboundLabels, renderLabels, type PeerLabels } from "./metric-labels.js";
import type { ProxyState } from "./state.js";

/** Label sets a proxy keeps per configuration; beyond it they are made again (under ALLOW_ANY every outside host is one). */
const MAX_SERIES = 1024;

/**
 * Rendered series by protocol and the pair's two parts. Looked up by the parts themselves: a key string made per
 * request would cost more than the lookup.
 */
class SeriesCache {
  private readonly byProtocol = new Map<string, Map<string, Map<string | number, string>>>();
  private size = 0;

  get(protocol: string, a: string, b: string | number): string | undefined {
    return this.byProtocol.get(protocol)?.get(a)?.get(b);
  }

  set(protocol: string, a: string, b: string | number, labels: PeerLabels): string {
    if (this.size >= MAX_SERIES) {
      this.byProtocol.clear();
      this.size = 0;
    }
    let byA = this.byProtocol.get(protocol);
    if (!byA) this.byProtocol.set(protocol, (byA = new Map()));
    let byB = byA.get(a);
    if (!byB) byA.set(a, (byB = new Map()));
    const rendered = renderLabels(labels);
    byB.set(b, rendered);
    this.size++;
    return rendered;
  }
}

/** A configuration's series, each direction apart (a state is one proxy's: a push starts them again). */
const caches = new WeakMap<ProxyState, { out: SeriesCache; in: SeriesCache }>();

function cachesOf(state: ProxyState): { out: SeriesCache; in: SeriesCache } {
  let c = caches.get(state);
  if (!c) caches.set(state, (c = { out: new SeriesCache(), in: new SeriesCache() }));
  return c;
}

/** The metric labels of an outbound request or connection: to the workload the decision chose, else to the host (BlackHoleCluster when REGISTRY_ONLY blocked it). */
export function outboundSeries(state: ProxyState, d: Decision, host: string, protocol: PeerLabels["request_protocol"]): string {
  const o = d.outcome;
  const to = o.kind === "forward" ? o.workload : undefined;
  const blocked = d.code === DenyCodes.REGISTRY_ONLY;
  const service = blocked ? "BlackHoleCluster" : o.kind === "forward" && o.host ? o.host : host;
  const cache = cachesOf(state).out;
  const known = cache.get(protocol, to ?? "", service);
  if (known !== undefined) return known;
  const reg = Registry.of(state.snapshot);
  const name = blocked ? service : serviceName(reg, service, state.workload.namespace, to !== undefined);
  return cache.set(protocol, to ?? "", service, outboundLabels(state.workload, to ? reg.workload(to) : undefined, name, protocol));
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
export function inboundSeries(state: ProxyState, peer: Peer | undefined, port: number, protocol: PeerLabels["request_protocol"]): string {
  const cache = cachesOf(state).in;
  const caller = peer?.spiffe ?? "";
  return cache.get(protocol, caller, port) ??
    cache.set(protocol, caller, port, inboundLabels(state.workload, peer?.spiffe, Registry.of(state.snapshot).servicesOf(state.workload, port)[0]?.service.hostname, protocol));
}
