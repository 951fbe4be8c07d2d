// Which Sidecar resource configures a workload, and what its egress scope lets it see.
import { hostMatches } from "../api/host.js";
import { selectorMatches } from "../api/match.js";
import type { OutboundMode } from "../api/mesh.js";
import type { Sidecar, SidecarEgress } from "../api/types.js";
import type { MeshService, Workload } from "../registry/model.js";
import type { PolicyIndex } from "./index.js";

export interface SidecarChoice {
  sidecar?: Sidecar;
  /** How it was chosen, in words. */
  why: string;
}

export const sidecarName = (s: Sidecar) => `Sidecar/${s.meta.namespace}/${s.meta.name}`;

/**
 * Istio's order: a Sidecar in the workload's namespace whose selector matches,
 * then that namespace's Sidecar without a selector, then the root namespace's.
 */
/** The Sidecar that applies to a workload (once per snapshot and workload: every request asks). */
export function sidecarFor(index: PolicyIndex, w: Workload): SidecarChoice {
  return index.derive(chooseSidecar, w);
}

function chooseSidecar(index: PolicyIndex, w: Workload): SidecarChoice {
  const local = index.sidecars.get(w.namespace) ?? [];
  const selected = local.find((s) => s.workloadSelector && Object.keys(s.workloadSelector).length > 0 && selectorMatches(s.workloadSelector, w.labels));
  if (selected) return { sidecar: selected, why: `${sidecarName(selected)} selects the workload's labels` };
  const nsWide = local.find((s) => !s.workloadSelector || Object.keys(s.workloadSelector).length === 0);
  if (nsWide) return { sidecar: nsWide, why: `${sidecarName(nsWide)} is the namespace-wide Sidecar of ${w.namespace}` };
  const root = (index.sidecars.get(index.rootNamespace) ?? []).find((s) => !s.workloadSelector || Object.keys(s.workloadSelector).length === 0);
  if (root) return { sidecar: root, why: `${sidecarName(root)} is the root-namespace default (no Sidecar in ${w.namespace})` };
  return { why: "no Sidecar resource applies: every service exported to the namespace is in scope" };
}

export interface ScopeVerdict {
  visible: boolean;
  /** The egress host line that imported the service, e.g. `egress[0].hosts[1] "green/*"`. */
  line?: string;
  explanation: string;
}

/** The egress listener that handles `port`: one declaring that port, else the catch-all. */
export function egressListenerFor(s: Sidecar, port: number): { listener: SidecarEgress; index: number } | undefined {
  const exact = s.egress.findIndex((e) => e.port?.number === port);
  if (exact >= 0) return { listener: s.egress[exact]!, index: exact };
  const any = s.egress.findIndex((e) => !e.port);
  return any >= 0 ? { listener: s.egress[any]!, index: any } : undefined;
}

/**
 * Is `service` on `port` inside the workload's egress scope? Namespace part:
 * "*" any, "." the workload's own namespace, a "~" prefix excludes ("~/…" every
 * namespace, so "~/*" imports nothing); dnsName may be a wildcard. An exclusion
 * wins over any import of the same listener, as in Istio.
 */
/** A workload's verdicts by service and port (egressScopeOf). */
const egressVerdicts = () => new WeakMap<MeshService, Map<number, ScopeVerdict>>();

/**
 * inEgressScope, remembered per snapshot: a proxy asks it of every request to a service, and its snapshot holds only
 * what it may see, so the memo stays small. The control plane, which asks it for every workload and every service
 * once per push, calls inEgressScope: remembering a million pairs would cost more than computing them.
 */
export function egressScopeOf(index: PolicyIndex, w: Workload, service: MeshService, port: number): ScopeVerdict {
  const byService = index.derive(egressVerdicts, w);
  let byPort = byService.get(service);
  if (!byPort) byService.set(service, (byPort = new Map()));
  let v = byPort.get(port);
  if (!v) byPort.set(port, (v = inEgressScope(index, w, service, port)));
  return v;
}

/** Whether the workload's Sidecar (sidecarFor) lets it reach `service` on `port`, and why. */
export function inEgressScope(index: PolicyIndex, w: Workload, service: MeshService, port: number): ScopeVerdict {
  const choice = sidecarFor(index, w);
  if (!index.registry.visibleTo(service, w.namespace)) {
    return { visible: false, explanation: `${service.hostname} (${service.source}) is not exported to namespace ${w.namespace}` };
  }
  const s = choice.sidecar;
  if (!s) return { visible: true, explanation: `${service.hostname} is visible (no Sidecar limits the scope)` };
  if (!s.egress.length) return { visible: true, explanation: `${sidecarName(s)} has no egress section, so the scope is not limited` };
  const found = egressListenerFor(s, port);
  if (!found) return { visible: false, explanation: `${sidecarName(s)} has no egress listener for port ${port}` };
  const { listener, index: li } = found;
  const covers = (h: (typeof listener.hosts)[number]) =>
    (h.namespace === "*" || (h.namespace === "." ? service.namespace === w.namespace : h.namespace === service.namespace)) && hostMatches(h.dnsName, service.hostname);
  const excluded = listener.hosts.findIndex((h) => h.exclude && covers(h));
  if (excluded >= 0) {
    return { visible: false, explanation: `${sidecarName(s)} egress[${li}].hosts[${excluded}] "${listener.hosts[excluded]!.raw}" excludes ${service.hostname} (namespace ${service.namespace})` };
  }
  for (let hi = 0; hi < listener.hosts.length; hi++) {
    const h = listener.hosts[hi]!;
    if (!h.exclude && covers(h)) {
      const line = `egress[${li}].hosts[${hi}] "${h.raw}"`;
      return { visible: true, line, explanation: `${sidecarName(s)} ${line} imports ${service.hostname} (from namespace ${service.namespace})` };
    }
  }
  const hosts = listener.hosts.map((h) => `"${h.raw}"`).join(", ");
  return { visible: false, explanation: `${sidecarName(s)} egress[${li}] hosts [${hosts}] do not import ${service.hostname} (namespace ${service.namespace})` };
}

export function outboundMode(index: PolicyIndex, choice: SidecarChoice): { mode: OutboundMode; from: string } {
  if (choice.sidecar?.outboundTrafficPolicy) return { mode: choice.sidecar.outboundTrafficPolicy, from: sidecarName(choice.sidecar) };
  return { mode: index.mesh.outboundTrafficPolicy.mode, from: "meshConfig.outboundTrafficPolicy" };
}
