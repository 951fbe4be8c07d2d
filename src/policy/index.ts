import type { AuthorizationPolicy, Gateway, JwtRule, PeerAuthentication, RequestAuthentication, Sidecar, VirtualService, DestinationRule } from "../api/types.js";
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

/** A JWT rule with the RequestAuthentication it comes from. */
export interface JwtRuleOf {
  rule: JwtRule;
  policy: string;
  at: string;
}

/**
 * Per-snapshot indexes the evaluators use, so a decision touches only the
 * policies of the namespaces involved, not every policy in the mesh.
 */
export class PolicyIndex {
  readonly registry: Registry;
  readonly authz: Map<string, AuthorizationPolicy[]>;
  readonly peerAuthn: Map<string, PeerAuthentication[]>;
  readonly requestAuthn: Map<string, RequestAuthentication[]>;
  readonly sidecars: Map<string, Sidecar[]>;
  readonly gateways: Gateway[];
  readonly virtualServices: VirtualService[];
  readonly destinationRules: DestinationRule[];

  private constructor(readonly snapshot: Snapshot) {
    this.registry = Registry.of(snapshot);
    this.authz = group(snapshot.list("AuthorizationPolicy"));
    this.peerAuthn = group(snapshot.list("PeerAuthentication"));
    this.requestAuthn = group(snapshot.list("RequestAuthentication"));
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

  private readonly derived = new Map<object, WeakMap<object, unknown>>();

  /**
   * What `derivation` makes of this snapshot for `key` (a workload, say), made once: decisions ask the same
   * questions of every request, and the answers change only with the configuration. The function names the
   * derivation; it must be pure.
   */
  derive<K extends object, V>(derivation: (index: PolicyIndex, key: K) => V, key: K): V {
    let byKey = this.derived.get(derivation);
    if (!byKey) this.derived.set(derivation, (byKey = new WeakMap()));
    if (byKey.has(key)) return byKey.get(key) as V;
    const v = derivation(this, key);
    byKey.set(key, v);
    return v;
  }

  private readonly authzSets = new Map<string, PolicySet>();

  /**
   * AuthorizationPolicies that apply to a workload: the root namespace's
   * (mesh-wide) and its own namespace's, without a selector or selecting it.
   */
  authzFor(w: Workload): PolicySet {
    let set = this.authzSets.get(w.id);
    if (!set) this.authzSets.set(w.id, (set = compilePolicySet(this.selecting(this.authz, w))));
    return set;
  }

  /**
   * The policies of `byNamespace` that apply to `w`: the root namespace's and its own namespace's, without a
   * selector or selecting it. One attached by targetRef(s) belongs to a Gateway API resource zeromesh does not
   * run: it applies to no workload.
   */
  private selecting<T extends AuthorizationPolicy | RequestAuthentication>(byNamespace: Map<string, T[]>, w: Workload): T[] {
    const pick = (list: T[] | undefined) => (list ?? []).filter((p) => !p.targeted && (!p.selector || selectorMatches(p.selector, w.labels)));
    const root = this.rootNamespace === w.namespace ? [] : pick(byNamespace.get(this.rootNamespace));
    return [...root, ...pick(byNamespace.get(w.namespace))];
  }

  private readonly jwtRules = new Map<string, JwtRuleOf[]>();

  /**
   * The JWT rules that apply to a workload: every RequestAuthentication of the root namespace and of its own
   * namespace, without a selector or selecting it, merged (Istio configures them as one jwt_authn filter).
   */
  jwtRulesFor(w: Workload): JwtRuleOf[] {
    let rules = this.jwtRules.get(w.id);
    if (!rules) {
      rules = this.selecting(this.requestAuthn, w).flatMap((ra) =>
        ra.jwtRules.map((rule, i) => ({ rule, policy: `RequestAuthentication/${ra.meta.namespace}/${ra.meta.name}`, at: `jwtRules[${i}]` })));
      this.jwtRules.set(w.id, rules);
    }
    return rules;
  }

  get mesh() {
    return this.snapshot.mesh;
  }
  get rootNamespace(): string {
    return this.snapshot.mesh.rootNamespace;
  }
}
