// What the control plane sends one proxy: the configuration it may see
// (scoped as Istio scopes it), and where live endpoints listen. Pure.
import { manifestOf } from "../api/convert.js";
import { selectorMatches } from "../api/match.js";
import type { Resource } from "../api/types.js";
import { PolicyIndex } from "../policy/index.js";
import { inEgressScope, sidecarFor, sidecarName } from "../policy/sidecar-scope.js";
import type { MeshService, Workload } from "../registry/model.js";
import type { Registry } from "../registry/registry.js";
import type { Snapshot } from "../store/snapshot.js";
import type { EndpointTable, ProxyConfig } from "../wire/protocol.js";

const sourceKey = (w: Workload) => `${w.ownerKind}/${w.owner}`;

/**
 * Whether a change to a resource of this kind and namespace can change what `scopeFor` gives `w` (or the registry
 * it reads): the kinds scopeFor takes only from the workload's and the root namespace, or only for gateways, reach
 * only those; every other kind may reach anyone.
 */
export function changeReaches(kind: string, namespace: string, w: Workload, rootNamespace: string): boolean {
  switch (kind) {
    case "Sidecar": case "PeerAuthentication": case "AuthorizationPolicy": case "RequestAuthentication": case "Telemetry":
      return namespace === w.namespace || namespace === rootNamespace;
    case "Gateway": case "Secret":
      return w.gateway;
    default:
      return true;
  }
}

/**
 * A key that workloads with equal scopes share, or undefined when a workload's scope is its own. Sidecars (not
 * gateways) of one namespace under one Sidecar choice see the same services; when each one's own services are among
 * them and it stands behind one of them, their scopes (and the instances whose endpoints they see) are equal, so
 * the control plane makes their configuration once.
 */
export function sharedScopeKey(snapshot: Snapshot, w: Workload): string | undefined {
  if (w.gateway) return undefined;
  const index = PolicyIndex.of(snapshot);
  const reg = index.registry;
  const choice = sidecarFor(index, w);
  const own = reg.servicesOf(w);
  if (!own.length) return undefined;
  if (!own.every(({ service: s }) => s.ports.some((p) => inEgressScope(index, w, s, p.port).visible))) return undefined;
  if (!own.some(({ service, port }) => reg.endpoints(service, port).some((e) => e.workload.owner === w.owner))) return undefined;
  return `${w.namespace}|${choice.sidecar ? sidecarName(choice.sidecar) : "-"}`;
}

/** The resources one proxy needs, and no more. */
export function scopeFor(snapshot: Snapshot, w: Workload): Resource[] {
  const index = PolicyIndex.of(snapshot);
  const reg = index.registry;
  const root = index.rootNamespace;
  const keep = new Set<Resource>();
  const add = (r: Resource | undefined) => r && keep.add(r);
  const nsRelevant = (ns: string) => ns === w.namespace || ns === root;
  for (const n of snapshot.list("Namespace")) add(n);

  const own = new Set(reg.servicesOf(w).map((x) => x.service));
  const services = reg.services.filter((s) => {
    if (w.gateway) return true; // gateways route wherever their VirtualServices say
    if (own.has(s)) return true;
    return s.ports.some((p) => inEgressScope(index, w, s, p.port).visible);
  });
  // In the services' order, the workload's own last: workloads that share a scope (sharedScopeKey: their own services
  // are among these, with them behind) get it in one order, whichever of them made it.
  const owners = new Set<string>();
  for (const s of services) for (const o of ownersBehind(reg, s)) owners.add(o);
  owners.add(sourceKey(w));

  // Services and workloads by key (their sources are keys), the rest by kind: a scope costs what it holds, not the mesh.
  for (const s of services) add(snapshot.resources.get(s.source));
  for (const o of owners) add(snapshot.resources.get(o));
  if (!w.gateway) for (const r of snapshot.list("Sidecar")) if (nsRelevant(r.meta.namespace)) add(r);
  for (const kind of ["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication", "Telemetry"] as const) {
    for (const r of snapshot.list(kind)) if (nsRelevant(r.meta.namespace)) add(r);
  }
  for (const r of snapshot.list("VirtualService")) add(r);
  for (const r of snapshot.list("DestinationRule")) add(r);
  if (w.gateway) {
    for (const r of snapshot.list("Gateway")) if (selectorMatches(r.selector, w.labels)) add(r);
    for (const r of snapshot.list("Secret")) if (r.meta.namespace === w.namespace) add(r);
  }
  return [...keep];
}

const behind = new WeakMap<Registry, Map<MeshService, string[]>>();

/** The workloads (as resource keys) behind a service's ports, once per registry: every scope that sees the service asks. */
function ownersBehind(reg: Registry, s: MeshService): string[] {
  let memo = behind.get(reg);
  if (!memo) behind.set(reg, (memo = new Map()));
  let list = memo.get(s);
  if (!list) {
    const set = new Set<string>();
    for (const p of s.ports) for (const e of reg.endpoints(s, p)) set.add(sourceKey(e.workload));
    memo.set(s, (list = [...set]));
  }
  return list;
}

/** The workload instances whose endpoints a proxy may see: its own workload's, and those of the workloads among its resources. */
export function visibleInstances(reg: Registry, w: Workload, resources: readonly Resource[]): Set<string> {
  const visible = new Set<string>(reg.instancesOf(w.owner).map((i) => i.id));
  visible.add(w.id);
  for (const r of resources) {
    if (r.kind === "Pod" || r.kind === "Deployment" || r.kind === "ReplicaSet" || r.kind === "StatefulSet" || r.kind === "WorkloadEntry") {
      for (const inst of reg.instancesOf(`${r.meta.namespace}/${r.meta.name}`)) visible.add(inst.id);
    }
  }
  return visible;
}

export function buildProxyConfig(snapshot: Snapshot, w: Workload, version: number, endpoints: EndpointTable, names: Record<string, string>, outsideRoots?: string): ProxyConfig {
  const resources = scopeFor(snapshot, w);
  const visibleWorkloads = visibleInstances(PolicyIndex.of(snapshot).registry, w, resources);
  return {
    version, workload: w.id, mesh: snapshot.mesh,
    manifests: resources.map((r) => manifestOf(r)).filter((m) => m !== undefined),
    // A proxy with no listeners has no endpoint (config-lines.ts leaves it out the same way).
    endpoints: Object.fromEntries(Object.entries(endpoints).filter(([id, l]) => visibleWorkloads.has(id) && Object.keys(l).length > 0)),
    names,
    outsideRoots,
  };
}
