import { BoundedMap } from "../bounded-map.js";
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { hostMatches } from "../api/host.js";
import { selectorMatches } from "../api/match.js";
import { selectProtocol } from "../api/protocol.js";
import type { Protocol } from "../api/types.js";
import type { Snapshot } from "../store/snapshot.js";
import { CLUSTER_DOMAIN, candidateNames, serviceFqdn } from "./dns.js";
import { injectsSidecar, isGatewayPod } from "./injection.js";
import type { Endpoint, MeshService, ServiceModelPort, Workload } from "./model.js";
import { allocateAddresses, type AddressRequest } from "./service-addresses.js";

/**
 * Services, workloads and endpoints derived from one snapshot. Pure and
 * memoized per snapshot: build it once per config version.
 */
export class Registry {
  readonly services: MeshService[] = [];
  readonly workloads: Workload[] = [];
  private readonly byHost = new Map<string, MeshService[]>();
  private readonly wildcardServices: MeshService[] = [];
  private readonly byAddress = new Map<string, MeshService[]>();
  private readonly byOwner = new Map<string, Workload[]>();
  private readonly byId = new Map<string, Workload>();
  private readonly workloadsByNs = new Map<string, Workload[]>();
  private readonly servicesByNs = new Map<string, MeshService[]>();
  // Memoized per snapshot: these are asked on every request.
  /** By service and port number (objects of this registry: no key to build per lookup). */
  private readonly endpointCache = new WeakMap<MeshService, Map<number, Endpoint[]>>();
  /** lookup's answers by namespace and name: a proxy asks for every request. Bounded (under ALLOW_ANY every outside name is a key). */
  private readonly lookups = new BoundedMap<string, BoundedMap<string, MeshService[]>>(1024);
  /** By workload, then port (-1: every port): asked per request, so no key string is made. */
  private readonly servicesOfCache = new WeakMap<Workload, Map<number, { service: MeshService; port: ServiceModelPort }[]>>();
  private readonly protocolCache = new WeakMap<Workload, Map<number, Protocol>>();

  private constructor(readonly snapshot: Snapshot) {
    this.buildWorkloads();
    this.buildServices();
  }

  private static cache = new WeakMap<Snapshot, Registry>();
  static of(snapshot: Snapshot): Registry {
    let r = Registry.cache.get(snapshot);
    if (!r) Registry.cache.set(snapshot, (r = new Registry(snapshot)));
    return r;
  }

  get trustDomain(): string {
    return this.snapshot.mesh.trustDomain;
  }

  private namespaceLabels(ns: string): Record<string, string> {
    return this.snapshot.get("Namespace", "", ns)?.meta.labels ?? {};
  }

  private readonly addresses = new Set<string>();

  private addWorkload(w: Workload): void {
    if (!w.address || !isIP(w.address)) w.address = this.assignAddress(w.id);
    this.addresses.add(w.address);
    this.workloads.push(w);
    this.byId.set(w.id, w);
    pushTo(this.workloadsByNs, w.namespace, w);
    const list = this.byOwner.get(w.owner) ?? [];
    list.push(w);
    this.byOwner.set(w.owner, list);
  }

  private assignAddress(id: string): string {
    return loopbackAddressFor(id, this.addresses);
  }

  private identity(ns: string, sa: string) {
    const principal = `${this.trustDomain}/ns/${ns}/sa/${sa}`;
    return { principal, spiffe: `spiffe://${principal}` };
  }

  private buildWorkloads(): void {
    const sources = [
      ...this.snapshot.list("Pod"), ...this.snapshot.list("Deployment"),
      ...this.snapshot.list("ReplicaSet"), ...this.snapshot.list("StatefulSet"),
    ];
    for (const src of sources) {
      const ns = src.meta.namespace;
      const t = src.template;
      const input = { namespaceLabels: this.namespaceLabels(ns), podLabels: t.labels, podAnnotations: t.annotations };
      const gateway = isGatewayPod(t.annotations, t.labels);
      for (let i = 0; i < src.replicas; i++) {
        const name = src.meta.name;
        this.addWorkload({
          id: i === 0 ? `${ns}/${name}` : `${ns}/${name}-${i}`,
          owner: `${ns}/${name}`, ownerKind: src.kind, namespace: ns, name, replica: i,
          labels: t.labels, annotations: t.annotations, serviceAccount: t.serviceAccount,
          ...this.identity(ns, t.serviceAccount),
          containerPorts: t.ports, sidecar: gateway || injectsSidecar(input), gateway, address: "", node: t.nodeName, command: t.command,
        });
      }
    }
    for (const we of this.snapshot.list("WorkloadEntry")) {
      const ns = we.meta.namespace;
      this.addWorkload({
        id: `${ns}/${we.meta.name}`, owner: `${ns}/${we.meta.name}`, ownerKind: "WorkloadEntry", namespace: ns, name: we.meta.name, replica: 0,
        labels: we.labels, annotations: we.meta.annotations, serviceAccount: we.serviceAccount,
        ...this.identity(ns, we.serviceAccount),
        containerPorts: Object.entries(we.ports).map(([name, port]) => ({ name, port })),
        // A WorkloadEntry is a VM or process that joined the mesh: it runs a sidecar.
        sidecar: true, gateway: false, address: we.address ?? "",
      });
    }
  }

  private addService(s: MeshService): void {
    this.services.push(s);
    pushTo(this.servicesByNs, s.namespace, s);
    if (s.hostname.startsWith("*")) this.wildcardServices.push(s);
    const list = this.byHost.get(s.hostname) ?? [];
    list.push(s);
    this.byHost.set(s.hostname, list);
  }

  private buildServices(): void {
    const requests: AddressRequest[] = [];
    for (const svc of this.snapshot.list("Service")) {
      this.addService({
        source: `Service/${svc.meta.namespace}/${svc.meta.name}`,
        hostname: serviceFqdn(svc.meta.name, svc.meta.namespace),
        namespace: svc.meta.namespace, name: svc.meta.name,
        ports: svc.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol })),
        exportTo: exportSet(svc.exportTo, svc.meta.namespace), external: false, resolution: "STATIC",
        selector: svc.selector, staticEndpoints: [], addresses: [],
      });
      requests.push({ key: `Service/${svc.meta.namespace}/${svc.meta.name}`, given: svc.clusterIP ? [svc.clusterIP] : [], pool: svc.clusterIP === "None" ? undefined : "service" });
    }
    for (const se of this.snapshot.list("ServiceEntry")) {
      for (const host of se.hosts) {
        this.addService({
          source: `ServiceEntry/${se.meta.namespace}/${se.meta.name}`,
          hostname: host, namespace: se.meta.namespace, name: se.meta.name,
          ports: se.ports.map((p) => ({ name: p.name, port: p.number, targetPort: p.targetPort ?? p.number, protocol: p.protocol })),
          exportTo: exportSet(se.exportTo, se.meta.namespace), external: se.location === "MESH_EXTERNAL", resolution: se.resolution,
          selector: se.workloadSelector, staticEndpoints: se.endpoints, addresses: [],
        });
        requests.push({ key: `ServiceEntry/${se.meta.namespace}/${se.meta.name}/${host}`, given: se.addresses, pool: host.startsWith("*") ? undefined : "auto" });
      }
    }
    const addresses = allocateAddresses(requests);
    for (const s of this.services) {
      s.addresses = addresses.get(s.source.startsWith("Service/") ? s.source : `${s.source}/${s.hostname}`) ?? [];
      for (const a of s.addresses) pushTo(this.byAddress, a, s);
    }
  }

  workload(id: string): Workload | undefined {
    return this.byId.get(id);
  }

  /** The instances of a Pod/Deployment named "ns/name" (FORMAT's `from`). */
  instancesOf(owner: string): Workload[] {
    return this.byOwner.get(owner) ?? [];
  }

  /** Services whose hostname is exactly `fqdn`. */
  servicesByHostname(fqdn: string): MeshService[] {
    return this.byHost.get(fqdn) ?? [];
  }

  /**
   * Services a lookup of `name` from `namespace` finds, by Kubernetes DNS
   * forms, exact hostnames, then wildcard ServiceEntry hosts.
   */
  lookup(name: string, namespace: string): MeshService[] {
    // By namespace, then name: no key string made and hashed per request.
    let inNamespace = this.lookups.get(namespace);
    if (!inNamespace) this.lookups.set(namespace, (inNamespace = new BoundedMap(4096)));
    let found = inNamespace.get(name);
    if (found === undefined) inNamespace.set(name, (found = this.resolve(name, namespace)));
    return found;
  }

  private resolve(name: string, namespace: string): MeshService[] {
    // An address is a service's when it is one of its virtual addresses (what a captured connection was sent to).
    if (isIP(name)) return this.byAddress.get(name) ?? this.byHost.get(name) ?? [];
    for (const fqdn of candidateNames(name, namespace)) {
      const found = this.byHost.get(fqdn);
      if (found?.length) return found;
    }
    const n = name.toLowerCase();
    return this.wildcardServices.filter((s) => hostMatches(s.hostname, n));
  }

  /** True when `name` resolves to an in-cluster Service (kube-dns would answer). */
  isClusterName(name: string, namespace: string): boolean {
    if (isIP(name)) return (this.byAddress.get(name) ?? []).some((s) => s.source.startsWith("Service/"));
    return candidateNames(name, namespace).some((f) => f.endsWith(`.svc.${CLUSTER_DOMAIN}`) && (this.byHost.get(f)?.length ?? 0) > 0);
  }

  visibleTo(s: MeshService, namespace: string): boolean {
    return s.exportTo === "*" || s.exportTo.has(namespace);
  }

  /** Workloads a service selects (in its own namespace), with the port each listens on for `servicePort`. */
  endpoints(s: MeshService, servicePort: ServiceModelPort): Endpoint[] {
    let byPort = this.endpointCache.get(s);
    if (!byPort) this.endpointCache.set(s, (byPort = new Map()));
    let out = byPort.get(servicePort.port);
    if (out) return out;
    out = [];
    if (s.selector && Object.keys(s.selector).length > 0) {
      for (const w of this.workloadsByNs.get(s.namespace) ?? []) {
        if (!selectorMatches(s.selector, w.labels)) continue;
        const port = resolveTargetPort(servicePort.targetPort, w);
        if (port !== undefined) out.push({ workload: w, port, name: `${w.id}:${port}`, service: s, servicePort });
      }
    }
    byPort.set(servicePort.port, out);
    return out;
  }

  /** Services (with port) that send traffic to workload `w` on `port` (all ports when undefined). */
  servicesOf(w: Workload, port?: number): { service: MeshService; port: ServiceModelPort }[] {
    let byPort = this.servicesOfCache.get(w);
    if (!byPort) this.servicesOfCache.set(w, (byPort = new Map()));
    let out = byPort.get(port ?? -1);
    if (out) return out;
    out = [];
    for (const s of this.servicesByNs.get(w.namespace) ?? []) {
      if (!s.selector || Object.keys(s.selector).length === 0 || !selectorMatches(s.selector, w.labels)) continue;
      for (const p of s.ports) {
        if (port === undefined || resolveTargetPort(p.targetPort, w) === port) out.push({ service: s, port: p });
      }
    }
    byPort.set(port ?? -1, out);
    return out;
  }

  /**
   * The protocol a workload port speaks: a selecting Service's port decides,
   * else the container port's name.
   */
  portProtocol(w: Workload, port: number): Protocol {
    let byPort = this.protocolCache.get(w);
    if (!byPort) this.protocolCache.set(w, (byPort = new Map()));
    let p = byPort.get(port);
    if (!p) {
      const fromService = this.servicesOf(w, port).find((x) => x.port.protocol !== "AUTO");
      p = fromService ? fromService.port.protocol : selectProtocol(w.containerPorts.find((c) => c.port === port)?.name, undefined);
      byPort.set(port, p);
    }
    return p;
  }

  /** Every port the workload serves: declared container ports and targeted Service ports. */
  workloadPorts(w: Workload): number[] {
    const ports = new Set(w.containerPorts.map((p) => p.port));
    for (const { port } of this.servicesOf(w)) {
      const n = resolveTargetPort(port.targetPort, w);
      if (n !== undefined) ports.add(n);
    }
    return [...ports].sort((a, b) => a - b);
  }
}

/**
 * Each workload gets its own loopback address, stable across config changes
 * (a hash of its id), so the live mesh can bind it and policies can name it.
 */
export function loopbackAddressFor(id: string, taken: ReadonlySet<string> = new Set()): string {
  let h = createHash("sha256").update(id).digest().readUInt32BE(0);
  for (;;) {
    const a = `127.${1 + (h % 254)}.${(h >>> 8) & 255}.${1 + ((h >>> 16) % 254)}`;
    if (!taken.has(a)) return a;
    h = (h * 31 + 7) >>> 0;
  }
}

function pushTo<T>(m: Map<string, T[]>, k: string, v: T): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

function exportSet(exportTo: string[], ns: string): "*" | ReadonlySet<string> {
  if (exportTo.length === 0 || exportTo.includes("*")) return "*";
  return new Set(exportTo.filter((e) => e !== "~").map((e) => (e === "." ? ns : e)));
}

export function resolveTargetPort(target: number | string, w: Workload): number | undefined {
  if (typeof target === "number") return target;
  return w.containerPorts.find((p) => p.name === target)?.port;
}
