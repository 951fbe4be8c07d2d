// The configuration lines a push writes, made once for all the proxies that
// get the same configuration, and from parts kept while they do not change.
// A proxy's configuration (proxy-config.ts) depends on its workload (not on
// which replica it is), the snapshot, the endpoints it may see, the outside
// names: so its scope and manifests are kept per snapshot and workload, each
// manifest's JSON per resource, the endpoints' JSON per push and set of
// visible workloads. What tells whether a proxy needs a push is a digest of
// those parts, not the text: the control plane keeps 40 bytes per proxy, not
// its configuration. Each body also keeps what it holds (references, no
// text), so that a proxy which acknowledged one is sent only what the next
// one changes (a delta), made once per pair of bodies.
import { createHash } from "node:crypto";
import { manifestOf } from "../api/convert.js";
import { keyOf, type Resource } from "../api/types.js";
import { PolicyIndex } from "../policy/index.js";
import type { Workload } from "../registry/model.js";
import type { Snapshot } from "../store/snapshot.js";
import type { EndpointTable, ProxyConfig } from "../wire/protocol.js";
import { changeReaches, scopeFor, sharedScopeKey, visibleInstances } from "./proxy-config.js";

const digest = (text: string) => createHash("sha1").update(text).digest("base64");

interface OwnerScope {
  /** The workload it was made for (one instance stands for its owner). */
  workload: Workload;
  /** The resources in scope; their JSON is joined again for a push that needs it (kept only for that push). */
  resources: Resource[];
  manifestsDigest: string;
  visible: Set<string>;
  /** Digest of the visible instances, so that workloads that see the same ones share their endpoints' JSON. */
  visibleKey: string;
}

/** What a body holds, by reference (no text): what a delta compares, and all a proxy's stream keeps of what it sent. */
export interface BodyParts {
  meshJson: string;
  scope: OwnerScope;
  endpoints: EndpointTable;
  names: Record<string, string>;
  outsideRoots?: string;
}

/** What one push sends a workload's proxies: the shared body, and its digest. */
export interface ConfigBody {
  /** The JSON object's members after version and workload: `"mesh":…,"manifests":…,"endpoints":…,"names":…`. */
  readonly members: string;
  /** The members and the line's end as bytes, made once and written to every stream that gets this body. */
  readonly tail: Buffer;
  digest: string;
  readonly parts: BodyParts;
}

export class ConfigLines {
  private snapshot?: Snapshot;
  private meshJson = "";
  private meshDigest = "";
  /** Scopes by sharedScopeKey (workloads with equal scopes), else by workload. */
  private owners = new Map<string, OwnerScope>();
  private readonly resourceJson = new WeakMap<Resource, string>();
  private readonly resourceDigest = new WeakMap<Resource, string>();
  /** Per push: endpoints' JSON and digest per visibleKey; names and roots once. */
  private push?: { resourceSets: WeakMap<OwnerScope, Set<Resource>>; endpoints: EndpointTable; names: Record<string, string>; outsideRoots?: string; byVisible: Map<string, { table: EndpointTable; json: string; digest: string }>; tail: string; tailDigest: string; bodies: Map<string, ConfigBody> };
  /** Deltas made in this push, by the bodies they lead to and what they lead from. */
  private deltas = new WeakMap<ConfigBody, WeakMap<BodyParts, Buffer>>();
  /**
   * The last push's endpoint tables and names, reused by the next when equal: proxies that got them in different
   * pushes then hold the same objects, so a delta between them is found equal by reference, and deltas are made
   * once per pair of scopes and tables, not once per proxy.
   */
  private last?: { byVisible: Map<string, { table: EndpointTable; json: string; digest: string }>; names: Record<string, string>; tail: string };
  /** What changed between two scopes ("upsert" and "remove" members), or two tables, kept while both are held. */
  private readonly pairs = new WeakMap<object, WeakMap<object, string>>();

  /** Starts a push over this snapshot, endpoint table and outside names. */
  begin(snapshot: Snapshot, endpoints: EndpointTable, names: Record<string, string>, outsideRoots?: string): void {
    if (snapshot !== this.snapshot) {
      const before = this.snapshot;
      this.snapshot = snapshot;
      if (!before || before.mesh !== snapshot.mesh) {
        this.meshJson = JSON.stringify(snapshot.mesh);
        this.meshDigest = digest(this.meshJson);
        this.owners = new Map();
      } else this.keepUnreached(before, snapshot);
    }
    const tail = `"names":${JSON.stringify(names)}${outsideRoots !== undefined ? `,"outsideRoots":${JSON.stringify(outsideRoots)}` : ""}`;
    if (this.push) this.last = { byVisible: this.push.byVisible, names: this.push.names, tail: this.push.tail };
    if (this.last?.tail === tail) names = this.last.names;
    this.push = { resourceSets: new WeakMap(), endpoints, names, outsideRoots, byVisible: new Map(), tail, tailDigest: digest(tail), bodies: new Map() };
    this.deltas = new WeakMap();
  }

  /** Ends a push: its bodies (and their text) are let go; what the next push compares with stays. */
  end(): void {
    if (this.push) this.push.bodies = new Map();
    this.deltas = new WeakMap();
  }

  /** The body every instance of `w`'s workload gets in this push. */
  body(w: Workload): ConfigBody {
    const snapshot = this.snapshot!;
    const push = this.push!;
    const key = sharedScopeKey(snapshot, w) ?? `owner ${w.owner}`;
    const made = push.bodies.get(key);
    if (made) return made;
    let scope = this.owners.get(key);
    if (!scope) {
      const resources = scopeFor(snapshot, w);
      const visible = visibleInstances(PolicyIndex.of(snapshot).registry, w, resources);
      scope = { workload: w, resources, manifestsDigest: this.manifestsDigest(resources), visible, visibleKey: digest([...visible].sort().join("\n")) };
      this.owners.set(key, scope);
    }
    let eps = push.byVisible.get(scope.visibleKey);
    if (!eps) {
      const visible = scope.visible;
      // A proxy with no listeners has no endpoint: it is left out, so its hello changes nobody's configuration.
      const table = Object.fromEntries(Object.entries(push.endpoints).filter(([id, l]) => visible.has(id) && Object.keys(l).length > 0));
      const json = JSON.stringify(table);
      const before = this.last?.byVisible.get(scope.visibleKey);
      push.byVisible.set(scope.visibleKey, (eps = before?.json === json ? before : { table, json, digest: digest(json) }));
    }
    const { resources } = scope;
    const meshJson = this.meshJson;
    const manifests = (r: Resource[]) => this.manifests(r);
    let members: string | undefined;
    let tail: Buffer | undefined;
    // The text is made only if some proxy needs it, and once for all of them; nothing of it outlives the push.
    const body: ConfigBody = {
      get members() {
        return (members ??= `"mesh":${meshJson},"manifests":${manifests(resources)},"endpoints":${eps!.json},${push.tail}`);
      },
      get tail() {
        return (tail ??= Buffer.from(`${this.members}}}\n`));
      },
      digest: digest(`${this.meshDigest}:${scope.manifestsDigest}:${eps.digest}:${push.tailDigest}`),
      parts: { meshJson, scope, endpoints: eps.table, names: push.names, outsideRoots: push.outsideRoots },
    };
    push.bodies.set(key, body);
    return body;
  }

  /**
   * The members of a delta (protocol.ts ConfigDelta, after version, base and workload) that turns what `base` holds
   * into what `next` holds, and the line's end, as bytes: made once per pair in a push, for every proxy that has
   * `base` and gets `next`.
   */
  delta(base: BodyParts, next: ConfigBody): Buffer {
    let from = this.deltas.get(next);
    if (!from) this.deltas.set(next, (from = new WeakMap()));
    let made = from.get(base);
    if (!made) from.set(base, (made = Buffer.from(`${this.deltaMembers(base, next.parts)}}}\n`)));
    return made;
  }

  private deltaMembers(a: BodyParts, b: BodyParts): string {
    const members: string[] = [];
    if (a.meshJson !== b.meshJson) members.push(`"mesh":${b.meshJson}`);
    members.push(this.pair(a.scope, b.scope, () => {
      // Resources never change in place: what is not the same object in both was added, changed or removed.
      const before = this.resourceSet(a.scope);
      const after = this.resourceSet(b.scope);
      const added = b.scope.resources.filter((r) => !before.has(r));
      const upserted = new Set(added.map(keyOf));
      const remove = a.scope.resources.filter((r) => !after.has(r)).map(keyOf).filter((k) => !upserted.has(k));
      const upsert = added.map((r) => this.json(r)).filter((j) => j !== undefined);
      return `"upsert":[${upsert.join(",")}],"remove":${JSON.stringify(remove)}`;
    }));
    members.push(`"endpoints":${this.pair(a.endpoints, b.endpoints, () => JSON.stringify(changed(a.endpoints, b.endpoints)))}`);
    members.push(`"names":${this.pair(a.names, b.names, () => JSON.stringify(changed(a.names, b.names)))}`);
    if (a.outsideRoots !== b.outsideRoots) members.push(`"outsideRoots":${JSON.stringify(b.outsideRoots ?? null)}`);
    return members.join(",");
  }

  private manifests(resources: readonly Resource[]): string {
    return `[${resources.map((r) => this.json(r)).filter((j) => j !== undefined).join(",")}]`;
  }

  /**
   * Keeps the scopes of the workloads no changed resource can reach (a policy in one namespace changes the scopes of
   * that namespace's workloads only): a change costs in proportion to the proxies it concerns.
   */
  private keepUnreached(before: Snapshot, after: Snapshot): void {
    const changed: { kind: string; namespace: string }[] = [];
    for (const [key, r] of after.resources) if (before.resources.get(key) !== r) changed.push({ kind: r.kind, namespace: r.meta.namespace });
    for (const [key, r] of before.resources) if (!after.resources.has(key)) changed.push({ kind: r.kind, namespace: r.meta.namespace });
    const root = after.mesh.rootNamespace;
    for (const [owner, scope] of this.owners) {
      if (changed.some((c) => changeReaches(c.kind, c.namespace, scope.workload, root))) this.owners.delete(owner);
    }
  }

  /** What `make` says of the pair (a, b), made once while both are held. */
  private pair(a: object, b: object, make: () => string): string {
    let from = this.pairs.get(b);
    if (!from) this.pairs.set(b, (from = new WeakMap()));
    let made = from.get(a);
    if (made === undefined) from.set(a, (made = make()));
    return made;
  }

  /** A scope's resources as a set, made once per push (not kept: a mesh has many scopes). */
  private resourceSet(scope: OwnerScope): Set<Resource> {
    const made = this.push!.resourceSets;
    let m = made.get(scope);
    if (!m) made.set(scope, (m = new Set(scope.resources)));
    return m;
  }

  /** A digest of the manifests' JSON in order, from each resource's own digest (kept per resource, as its JSON is). */
  private manifestsDigest(resources: readonly Resource[]): string {
    const h = createHash("sha1");
    for (const r of resources) {
      let d = this.resourceDigest.get(r);
      if (d === undefined) {
        const j = this.json(r);
        if (j === undefined) continue;
        this.resourceDigest.set(r, (d = digest(j)));
      }
      h.update(d);
    }
    return h.digest("base64");
  }

  private json(r: Resource): string | undefined {
    let j = this.resourceJson.get(r);
    if (j === undefined) {
      const m = manifestOf(r);
      if (m === undefined) return undefined;
      this.resourceJson.set(r, (j = JSON.stringify(m)));
    }
    return j;
  }
}

/** The entries of `b` that are new or differ from `a`'s, and null for each of `a`'s that `b` has not. */
function changed<V>(a: Record<string, V>, b: Record<string, V>): Record<string, V | null> {
  if (a === b) return {};
  const out: Record<string, V | null> = Object.create(null) as Record<string, V | null>;
  for (const [k, v] of Object.entries(b)) {
    const was = Object.hasOwn(a, k) ? a[k] : undefined;
    if (was !== v && (was === undefined || JSON.stringify(was) !== JSON.stringify(v))) out[k] = v;
  }
  for (const k of Object.keys(a)) if (!Object.hasOwn(b, k)) out[k] = null;
  return out;
}

/** The configuration a line carries, as an object (for proxy-config). */
export function configOf(version: number, workload: string, body: ConfigBody): ProxyConfig {
  return JSON.parse(`{"version":${version},"workload":${JSON.stringify(workload)},${body.members}}`) as ProxyConfig;
}
