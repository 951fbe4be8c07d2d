import type { AuthorizationPolicy, Gateway, PeerAuthentication, Sidecar, VirtualService, DestinationRule } from "../api/types.js";
import { selectorMatches } from "../api/match.js";
import type { Workload } from "../registry/model.js";
import { Registry } from "../registry/registry.js";
import { compilePolicySet, type PolicySet } from "./authz.js";
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

  private readonly authzSets = new Map<string, PolicySet>();

  /**
   * AuthorizationPolicies that apply to a workload: the root namespace's
   * (mesh-wide) and its own namespace's, without a selector or selecting it.
   */
  authzFor(w: Workload): PolicySet {
    let set = this.authzSets.get(w.id);
    if (!set) {
      const pick = (list: AuthorizationPolicy[] | undefined) => (list ?? []).filter((p) => !p.selector || selectorMatches(p.selector, w.labels));
      const root = this.rootNamespace === w.namespace ? [] : pick(this.authz.get(this.rootNamespace));
      this.authzSets.set(w.id, (set = compilePolicySet([...root, ...pick(this.authz.get(w.namespace))])));
    }
    return set;
  }

  get mesh() {
    return this.snapshot.mesh;
  }
  get rootNamespace(): string {
    return this.snapshot.mesh.rootNamespace;
  }
}
