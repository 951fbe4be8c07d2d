import type { AuthorizationPolicy, Gateway, PeerAuthentication, Sidecar, VirtualService, DestinationRule } from "../api/types.js";
import { Registry } from "../registry/registry.js";
import type { Snapshot } from "../store/snapshot.js";

function group<T extends { meta: { namespace: string } }>(list: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of list) {
    const l = m.get(x.meta.namespace) ?? [];
    l.push(x);
    m.set(x.meta.namespace, l);
  }
  return m;
}

/**
 * Per-snapshot indexes the evaluators use, so a decision touches only the
 * policies of the namespaces involved, not every policy in the mesh.
 */
export class PolicyIndex {
  readonly registry: Registry;
  readonly authz: Map<string, AuthorizationPolicy[]>;
  readonly peerAuthn: Map<string, PeerAuthentication[]>;
  readonly sidecars: Map<string, Sidecar[]>;
  readonly gateways: Gateway[];
  readonly virtualServices: VirtualService[];
  readonly destinationRules: DestinationRule[];

  private constructor(readonly snapshot: Snapshot) {
    this.registry = Registry.of(snapshot);
    this.authz = group(snapshot.list("AuthorizationPolicy"));
    this.peerAuthn = group(snapshot.list("PeerAuthentication"));
    this.sidecars = group(snapshot.list("Sidecar"));
    this.gateways = snapshot.list("Gateway");
    this.virtualServices = snapshot.list("VirtualService");
    this.destinationRules = snapshot.list("DestinationRule");
  }

  private static cache = new WeakMap<Snapshot, PolicyIndex>();
  static of(snapshot: Snapshot): PolicyIndex {
    let i = PolicyIndex.cache.get(snapshot);
    if (!i) PolicyIndex.cache.set(snapshot, (i = new PolicyIndex(snapshot)));
    return i;
  }

  get mesh() {
    return this.snapshot.mesh;
  }
  get rootNamespace(): string {
    return this.snapshot.mesh.rootNamespace;
  }
}
