import { DEFAULT_MESH, type MeshConfig } from "../api/mesh.js";
import { keyOf, type Kind, type Resource } from "../api/types.js";

type OfKind<R, K> = R extends { kind: infer RK } ? (K extends RK ? R : never) : never;
type ByKind = { [K in Kind]: OfKind<Resource, K>[] };

/**
 * An immutable view of the whole configuration at one version. Everything
 * downstream (registry, policy, config generation) reads snapshots only.
 */
export class Snapshot {
  private readonly byKind = new Map<Kind, Resource[]>();

  constructor(
    readonly version: number,
    readonly resources: ReadonlyMap<string, Resource>,
    readonly mesh: MeshConfig,
  ) {
    for (const r of resources.values()) {
      const list = this.byKind.get(r.kind) ?? [];
      list.push(r);
      this.byKind.set(r.kind, list);
    }
    // Deterministic order: Istio breaks ties by creation time; we use namespace/name.
    for (const list of this.byKind.values()) list.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }

  static empty(mesh: MeshConfig = DEFAULT_MESH): Snapshot {
    return new Snapshot(0, new Map(), mesh);
  }

  static of(resources: Resource[], mesh: MeshConfig = DEFAULT_MESH, version = 1): Snapshot {
    return new Snapshot(version, new Map(resources.map((r) => [keyOf(r), r])), mesh);
  }

  list<K extends Kind>(kind: K): ByKind[K] {
    return (this.byKind.get(kind) ?? []) as ByKind[K];
  }

  get<K extends Kind>(kind: K, namespace: string, name: string): ByKind[K][number] | undefined {
    return this.resources.get(`${kind}/${namespace}/${name}`) as ByKind[K][number] | undefined;
  }
}
