// A proxy's view of the mesh, built from one pushed ProxyConfig. The
// manifests pass the same validation as everywhere else: an invalid push is
// rejected (NACK) and the proxy keeps its last good state.
import { BoundedMap } from "../bounded-map.js";
import { convertObjects, findDuplicates } from "../api/convert.js";
import { errorsOf, formatIssue } from "../api/errors.js";
import type { ConfigDelta, ProxyConfig } from "../wire/protocol.js";
import { keyOf, type Resource } from "../api/types.js";
import { candidateNames } from "../registry/dns.js";
import type { Workload } from "../registry/model.js";
import { Registry } from "../registry/registry.js";
import { Snapshot } from "../store/snapshot.js";
import { telemetryPlan, type TelemetryPlan } from "../policy/telemetry.js";

export interface ProxyState {
  version: number;
  snapshot: Snapshot;
  workload: Workload;
  /** The configuration's other parts (its manifests are the snapshot's resources). */
  config: Omit<ProxyConfig, "manifests">;
  /** What Telemetry and meshConfig ask this proxy to log and count. */
  telemetry: TelemetryPlan;
}

export function stateFrom(config: ProxyConfig): ProxyState | { error: string } {
  const parsed = converted(config.manifests, config.version);
  if ("error" in parsed) return parsed;
  const { manifests: _, ...rest } = config;
  return made(rest, parsed);
}

/** The state a delta makes of `held`: only the documents it carries are converted; the others are kept as they were. */
export function stateFromDelta(held: ProxyState, d: ConfigDelta): ProxyState | { error: string } {
  const parsed = converted(d.upsert, d.version);
  if ("error" in parsed) return parsed;
  const c = held.config;
  const outsideRoots = d.outsideRoots === undefined ? c.outsideRoots : d.outsideRoots ?? undefined;
  const config = { version: d.version, workload: c.workload, mesh: d.mesh ?? c.mesh, endpoints: merged(c.endpoints, d.endpoints), names: merged(c.names, d.names), ...(outsideRoots !== undefined ? { outsideRoots } : {}) };
  // Only endpoints or names changed: the snapshot, and every index made of it, stays.
  if (!d.upsert.length && !d.remove.length && !d.mesh) return { ...held, version: d.version, config };
  const resources = new Map(held.snapshot.resources);
  for (const key of d.remove) resources.delete(key);
  for (const r of parsed) resources.set(keyOf(r), r);
  return made(config, [...resources.values()]);
}

/** Pushed documents as resources, checked as everywhere else; any error rejects the push. */
function converted(manifests: unknown[], version: number): Resource[] | { error: string } {
  // The pushed manifests are objects already: they are converted as such (no text round trip, no YAML parser here).
  const parsed = convertObjects(manifests, `push v${version}`);
  const errs = errorsOf([...parsed.issues, ...findDuplicates(parsed.resources)]);
  return errs.length ? { error: errs.map(formatIssue).join("; ") } : parsed.resources;
}

function made(config: Omit<ProxyConfig, "manifests">, resources: Resource[]): ProxyState | { error: string } {
  const snapshot = Snapshot.of(resources, config.mesh, config.version);
  const workload = Registry.of(snapshot).workload(config.workload);
  if (!workload) return { error: `the pushed configuration has no workload ${config.workload}` };
  return { version: config.version, snapshot, workload, config, telemetry: telemetryPlan(snapshot, workload) };
}

/** `table` with a delta's entries: a value replaces, null removes. */
function merged<V>(table: Record<string, V>, changes: Record<string, V | null>): Record<string, V> {
  const keep = Object.entries(table).filter(([k]) => !Object.hasOwn(changes, k));
  const add = Object.entries(changes).filter((e): e is [string, V] => e[1] !== null);
  return Object.fromEntries([...keep, ...add]);
}

/** Where to connect for a next hop: a live endpoint, a name the control plane resolved, or the host itself. */
export function resolveHop(state: ProxyState, hop: { workload?: string; address: string; port: number }): { host: string; port: number } | undefined {
  if (hop.workload) {
    const at = state.config.endpoints[hop.workload]?.[String(hop.port)];
    return at ? split(at) : undefined;
  }
  for (const name of candidateNames(hop.address, state.workload.namespace)) {
    const at = state.config.names[`${name}:${hop.port}`];
    if (at) return split(at);
  }
  return { host: hop.address, port: hop.port };
}

/** Addresses split once: every forwarded request resolves its hop, and the same strings give the same host string (whose hash is kept). */
const splits = new BoundedMap<string, Readonly<{ host: string; port: number }>>(4096);

function split(hostPort: string): Readonly<{ host: string; port: number }> {
  let s = splits.get(hostPort);
  if (!s) {
    const i = hostPort.lastIndexOf(":");
    splits.set(hostPort, (s = Object.freeze({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) })));
  }
  return s;
}
