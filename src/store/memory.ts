import { Codes, ZmError } from "../api/errors.js";
import { DEFAULT_MESH, type MeshConfig } from "../api/mesh.js";
import { keyOf, type Resource } from "../api/types.js";
import { Snapshot } from "./snapshot.js";
import type { ChangeEvent, ChangeSet, ConfigStore } from "./store.js";

/** The embedded store: snapshots in memory, replaced atomically on each commit. */
export class MemoryStore implements ConfigStore {
  private current: Snapshot;
  private readonly listeners = new Set<(e: ChangeEvent, s: Snapshot) => void>();

  constructor(initial: Resource[] = [], mesh: MeshConfig = DEFAULT_MESH) {
    this.current = Snapshot.of(initial, mesh, initial.length ? 1 : 0);
  }

  snapshot(): Snapshot {
    return this.current;
  }

  commit(change: ChangeSet): ChangeEvent {
    const next = new Map(this.current.resources);
    const event: ChangeEvent = {
      version: this.current.version + 1, previous: this.current.version,
      created: [], updated: [], deleted: [], meshChanged: false, cause: change.cause ?? "api",
    };
    const missing: string[] = [];
    for (const k of change.remove ?? []) {
      const key = `${k.kind}/${k.namespace}/${k.name}`;
      if (!next.delete(key)) missing.push(key);
      else event.deleted.push(key);
    }
    if (missing.length) throw new ZmError(Codes.NOT_FOUND, `cannot delete what does not exist: ${missing.join(", ")}; nothing was changed`);
    for (const r of change.upsert ?? []) {
      const key = keyOf(r);
      (next.has(key) || event.deleted.includes(key) ? event.updated : event.created).push(key);
      next.set(key, r);
    }
    const mesh = change.mesh ?? this.current.mesh;
    event.meshChanged = change.mesh !== undefined && JSON.stringify(change.mesh) !== JSON.stringify(this.current.mesh);
    this.current = new Snapshot(event.version, next, mesh);
    for (const l of this.listeners) l(event, this.current);
    return event;
  }

  subscribe(listener: (e: ChangeEvent, s: Snapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
