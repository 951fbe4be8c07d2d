// Prometheus service discovery for the proxies' stats endpoints: the target
// groups of Prometheus's file_sd and http_sd (one JSON shape for both), one
// group per connected proxy, labelled as Istio's scrape configuration labels
// a pod (namespace, pod). The control plane keeps a file of them up to date,
// so a Prometheus pointed at it with `file_sd_configs` follows proxies as they
// come and go, with no credential of the mesh's.
import { renameSync, writeFileSync } from "node:fs";
import type { ProxyRecord } from "./push.js";

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** The targets file's name in the control plane's state directory. */
export const PROMETHEUS_TARGETS_FILE = "prometheus-targets.json";

/** Envoy's (and so Istio's) path for Prometheus metrics, which the proxies serve. */
export const METRICS_PATH = "/stats/prometheus";

/** One group per connected proxy that reported a stats endpoint, in a stable order. */
export function targetGroups(proxies: Iterable<ProxyRecord>): TargetGroup[] {
  const out: TargetGroup[] = [];
  for (const p of proxies) {
    if (!p.connected || !p.stats) continue;
    const slash = p.id.indexOf("/");
    out.push({ targets: [p.stats], labels: { __metrics_path__: METRICS_PATH, namespace: p.id.slice(0, slash), pod: p.id.slice(slash + 1) } });
  }
  return out.sort((a, b) => (a.targets[0]! < b.targets[0]! ? -1 : 1));
}

/** Keeps `file` equal to the latest groups: written aside and renamed (Prometheus never reads half a file), only on change. */
export class TargetFile {
  private last = "";
  constructor(private readonly file: string) {}

  update(groups: TargetGroup[]): void {
    const text = JSON.stringify(groups, null, 2) + "\n";
    if (text === this.last) return;
    // Readable by a Prometheus running as another user; addresses are no secret (the folder decides who sees them).
    writeFileSync(`${this.file}.tmp`, text, { mode: 0o644 });
    renameSync(`${this.file}.tmp`, this.file);
    this.last = text;
  }
}
