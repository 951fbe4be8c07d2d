// What the Telemetry API and meshConfig ask of one workload's proxy: whether it
// writes access logs, and which of Istio's standard metrics it reports, on
// each side (CLIENT: outbound and gateways; SERVER: inbound). Istio's rules:
// Telemetry resources apply root namespace, then namespace, then workload
// selector, a lower level's list replacing its parent's for the providers
// it names; providers not named fall back to meshConfig.defaultProviders;
// with no Telemetry access logging at all, meshConfig.accessLogFile decides.
// zeromesh's proxies write access logs themselves (stdout, or the file their
// --access-log names) and serve metrics in Prometheus's format, so the
// providers they can honour are Envoy's file logger ("envoy", or an
// extensionProvider with envoyFileAccessLog) and "prometheus". Pure.
import { selectorMatches } from "../api/match.js";
import type { MeshConfig } from "../api/mesh.js";
import type { IstioMetric, Telemetry, WorkloadMode } from "../api/types.js";
import type { Workload } from "../registry/model.js";
import type { Snapshot } from "../store/snapshot.js";

export type Side = "CLIENT" | "SERVER";

/** The metrics zeromesh reports (the other Istio metrics are not kept). */
export type KeptMetric = "REQUEST_COUNT" | "REQUEST_DURATION" | "TCP_OPENED_CONNECTIONS" | "TCP_CLOSED_CONNECTIONS";
const KEPT: KeptMetric[] = ["REQUEST_COUNT", "REQUEST_DURATION", "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS"];

export interface SideTelemetry {
  accessLog: boolean;
  metrics: Record<KeptMetric, boolean>;
  /** Why, in words: the resources that decided. */
  why: string[];
}

export type TelemetryPlan = Record<Side, SideTelemetry>;

/** The Telemetry resources that apply to `w`, outermost first (root namespace, its namespace, then selecting ones). */
export function applicableTelemetries(snapshot: Snapshot, w: Workload): Telemetry[] {
  // One attached by targetRef(s) belongs to a Gateway API resource zeromesh does not run.
  const all = snapshot.list("Telemetry").filter((t) => !t.targeted).sort((a, b) => a.meta.name.localeCompare(b.meta.name));
  const root = snapshot.mesh.rootNamespace;
  const out: Telemetry[] = [];
  const rootWide = all.find((t) => t.meta.namespace === root && !t.selector);
  if (rootWide) out.push(rootWide);
  if (w.namespace !== root) {
    const nsWide = all.find((t) => t.meta.namespace === w.namespace && !t.selector);
    if (nsWide) out.push(nsWide);
  }
  // A selector in the root namespace is ignored, as Istio does.
  if (w.namespace !== root) for (const t of all) if (t.meta.namespace === w.namespace && t.selector && selectorMatches(t.selector, w.labels)) out.push(t);
  return out;
}

const nameOf = (t: Telemetry) => `Telemetry/${t.meta.namespace}/${t.meta.name}`;
const applies = (mode: WorkloadMode, side: Side) => mode === "CLIENT_AND_SERVER" || mode === side;

/** Can this proxy write access logs for the named provider? */
function fileLogger(mesh: MeshConfig, name: string): boolean {
  const ext = mesh.extensionProviders.find((p) => p.name.toLowerCase() === name.toLowerCase());
  if (ext) return ext.kind === "envoyFileAccessLog";
  return name.toLowerCase() === "envoy"; // Istio's built-in provider
}

function accessLogFor(mesh: MeshConfig, telemetries: Telemetry[], side: Side): { on: boolean; why: string } {
  const levels = telemetries.filter((t) => t.accessLogging.length);
  const defaults = mesh.defaultProviders.accessLogging;
  if (!levels.length && !defaults.length) {
    return mesh.accessLogFile
      ? { on: true, why: `meshConfig.accessLogFile is ${JSON.stringify(mesh.accessLogFile)}` }
      : { on: false, why: "no Telemetry asks for access logs and meshConfig.accessLogFile is empty" };
  }
  // Providers in scope: the innermost level that names any for this side replaces its parents'.
  let inScope = defaults;
  for (const t of levels) {
    const named = t.accessLogging.filter((a) => applies(a.mode, side)).flatMap((a) => a.providers);
    if (named.length) inScope = named;
  }
  // Without Telemetry logging the default providers log; with it, only what its entries for this side say does.
  const state = new Map<string, { on: boolean; by: string }>(levels.length ? [] : defaults.map((p) => [p, { on: true, by: "meshConfig.defaultProviders.accessLogging" }]));
  let parent = defaults;
  for (const t of levels) {
    for (const a of t.accessLogging) {
      const names = a.providers.length ? a.providers : parent;
      parent = names;
      if (!applies(a.mode, side)) continue;
      for (const p of names) if (inScope.includes(p)) state.set(p, { on: a.disabled !== true, by: nameOf(t) });
    }
  }
  const enabled = [...state].filter(([p, s]) => s.on && inScope.includes(p));
  const written = enabled.filter(([p]) => fileLogger(mesh, p));
  if (written.length) return { on: true, why: `${written.map(([p, s]) => `provider ${p} (${s.by})`).join(", ")}` };
  if (enabled.length) return { on: false, why: `provider ${enabled.map(([p]) => p).join(", ")} is not a file logger zeromesh can write` };
  const off = [...state].find(([p, s]) => !s.on && inScope.includes(p));
  return { on: false, why: off ? `disabled by ${off[1].by}` : "no access log provider in scope" };
}

function metricsFor(mesh: MeshConfig, telemetries: Telemetry[], side: Side): { metrics: Record<KeptMetric, boolean>; why: string } {
  const levels = telemetries.filter((t) => t.metrics.length);
  let providers = mesh.defaultProviders.metrics;
  for (const t of levels) for (const m of t.metrics) if (m.providers.length) providers = m.providers;
  const metrics = Object.fromEntries(KEPT.map((k) => [k, true])) as Record<KeptMetric, boolean>;
  if (!providers.some((p) => p.toLowerCase() === "prometheus")) {
    for (const k of KEPT) metrics[k] = false;
    return { metrics, why: "no Telemetry or meshConfig.defaultProviders.metrics names prometheus" };
  }
  let by = "";
  // Overrides apply in order, root first: a later level re-enables what an earlier one disabled.
  for (const t of levels) {
    for (const m of t.metrics) {
      const named = m.providers.length ? m.providers : providers;
      if (!named.some((p) => p.toLowerCase() === "prometheus")) continue;
      for (const o of m.overrides) {
        if (!applies(o.mode, side) || o.disabled === undefined) continue;
        const hit: KeptMetric[] = o.metric === "ALL_METRICS" ? KEPT : KEPT.filter((k) => k === (o.metric as IstioMetric));
        for (const k of hit) metrics[k] = !o.disabled;
        if (hit.length) by = nameOf(t);
      }
    }
  }
  const off = KEPT.filter((k) => !metrics[k]);
  return { metrics, why: off.length ? `${off.join(", ")} disabled by ${by}` : "prometheus reports every metric" };
}

/** What the workload's proxy logs and counts on each side. */
export function telemetryPlan(snapshot: Snapshot, w: Workload): TelemetryPlan {
  const ts = applicableTelemetries(snapshot, w);
  const side = (s: Side): SideTelemetry => {
    const log = accessLogFor(snapshot.mesh, ts, s);
    const m = metricsFor(snapshot.mesh, ts, s);
    return { accessLog: log.on, metrics: m.metrics, why: [`access log ${log.on ? "on" : "off"}: ${log.why}`, `metrics: ${m.why}`] };
  };
  return { CLIENT: side("CLIENT"), SERVER: side("SERVER") };
}
