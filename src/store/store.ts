import type { MeshConfig } from "../api/mesh.js";
import type { Resource } from "../api/types.js";
import type { Snapshot } from "./snapshot.js";

/** The identity of one stored object: kind/namespace/name (namespace "" for Namespaces). */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

/** One all-or-nothing change: validated resources to create or replace, keys to delete, and meshConfig. */
export interface ChangeSet {
  upsert?: Resource[];
  remove?: ResourceKey[];
  mesh?: MeshConfig;
  /** Who asked, for the audit trail ("cli apply", "file watch", "scenario step 2"). */
  cause?: string;
}

export interface ChangeEvent {
  version: number;
  previous: number;
  created: string[];
  updated: string[];
  deleted: string[];
  meshChanged: boolean;
  cause: string;
}

/**
 * The configuration store. The embedded default is in memory; an etcd or
 * Kubernetes backend implements the same interface. Implementations validate
 * nothing themselves: callers hand them typed, validated resources.
 */
export interface ConfigStore {
  snapshot(): Snapshot;
  /** Applies the whole change or none of it; throws ZmError (ZM_NOT_FOUND) for a missing delete. */
  commit(change: ChangeSet): ChangeEvent;
  subscribe(listener: (event: ChangeEvent, snapshot: Snapshot) => void): () => void;
}
