// A proxy's view of the mesh, built from one pushed ProxyConfig. The
// manifests pass the same validation as everywhere else: an invalid push is
// rejected (NACK) and the proxy keeps its last good state.
import { convertObjects, findDuplicates } from "../api/convert.js";
import { errorsOf, formatIssue } from "../api/errors.js";
import type { ProxyConfig } from "../control/proxy-config.js";
import { candidateNames } from "../registry/dns.js";
import type { Workload } from "../registry/model.js";
import { Registry } from "../registry/registry.js";
import { Snapshot } from "../store/snapshot.js";
import { telemetryPlan, type TelemetryPlan } from "../policy/telemetry.js";

export interface ProxyState {
  version: number;
  snapshot: Snapshot;
  workload: Workload;
  config: ProxyConfig;
  /** What Telemetry and meshConfig ask this proxy to log and count. */
  telemetry: TelemetryPlan;
}

export function stateFrom(config: ProxyConfig): ProxyState | { error: string } {
  // The pushed manifests are objects already: they are converted as such (no text round trip, no YAML parser here).
  const parsed = convertObjects(config.manifests, `push v${config.version}`);
  const errs = errorsOf([...parsed.issues, ...findDuplicates(parsed.resources)]);
  if (errs.length) return { error: errs.map(formatIssue).join("; ") };
  const snapshot = Snapshot.of(parsed.resources, config.mesh, config.version);
  const workload = Registry.of(snapshot).workload(config.workload);
  if (!workload) return { error: `the pushed configuration has no workload ${config.workload}` };
  return { version: config.version, snapshot, workload, config, telemetry: telemetryPlan(snapshot, workload) };
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

function split(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}
