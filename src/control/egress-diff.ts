// What a configuration change did to where workloads may go: ServiceEntries
// added, removed or changed, Sidecars' egress hosts and outbound policy, and
// meshConfig's outboundTrafficPolicy. Pure: two snapshots in, changes out.
import type { ServiceEntry, Sidecar } from "../api/types.js";
import type { Snapshot } from "../store/snapshot.js";

export interface EgressChange {
  resource: string;
  /** What happened, in a few words: "added", "removed", "hosts changed"… */
  what: string;
  added: string[];
  removed: string[];
}

const keyed = <T extends { meta: { namespace: string; name: string } }>(list: readonly T[]) => new Map(list.map((x) => [`${x.meta.namespace}/${x.meta.name}`, x]));
const diff = (before: readonly string[], after: readonly string[]) => ({ added: after.filter((h) => !before.includes(h)), removed: before.filter((h) => !after.includes(h)) });
const seHosts = (se: ServiceEntry) => se.hosts.flatMap((h) => se.ports.map((p) => `${h}:${p.number}`));
const sidecarHosts = (s: Sidecar) => s.egress.flatMap((e) => e.hosts.map((h) => (e.port ? `${h.raw} (port ${e.port.number})` : h.raw)));

export function egressChanges(before: Snapshot, after: Snapshot): EgressChange[] {
  const out: EgressChange[] = [];
  const [seBefore, seAfter] = [keyed(before.list("ServiceEntry")), keyed(after.list("ServiceEntry"))];
  for (const [k, se] of seAfter) {
    const old = seBefore.get(k);
    if (!old) out.push({ resource: `ServiceEntry/${k}`, what: "added", added: seHosts(se), removed: [] });
    else {
      const d = diff(seHosts(old), seHosts(se));
      const other = old.resolution !== se.resolution || old.location !== se.location || old.exportTo.join() !== se.exportTo.join();
      if (d.added.length || d.removed.length || other) out.push({ resource: `ServiceEntry/${k}`, what: d.added.length || d.removed.length ? "hosts changed" : "changed", ...d });
    }
  }
  for (const [k, se] of seBefore) if (!seAfter.has(k)) out.push({ resource: `ServiceEntry/${k}`, what: "removed", added: [], removed: seHosts(se) });
  const [scBefore, scAfter] = [keyed(before.list("Sidecar")), keyed(after.list("Sidecar"))];
  for (const [k, sc] of scAfter) {
    const old = scBefore.get(k);
    if (!old) out.push({ resource: `Sidecar/${k}`, what: `added${sc.outboundTrafficPolicy ? ` (outboundTrafficPolicy ${sc.outboundTrafficPolicy})` : ""}`, added: sidecarHosts(sc), removed: [] });
    else {
      const d = diff(sidecarHosts(old), sidecarHosts(sc));
      if (d.added.length || d.removed.length) out.push({ resource: `Sidecar/${k}`, what: "egress hosts changed", ...d });
      if (old.outboundTrafficPolicy !== sc.outboundTrafficPolicy) out.push({ resource: `Sidecar/${k}`, what: `outboundTrafficPolicy ${old.outboundTrafficPolicy ?? "(mesh default)"} → ${sc.outboundTrafficPolicy ?? "(mesh default)"}`, added: [], removed: [] });
    }
  }
  for (const [k, sc] of scBefore) if (!scAfter.has(k)) out.push({ resource: `Sidecar/${k}`, what: "removed", added: [], removed: sidecarHosts(sc) });
  const [m1, m2] = [before.mesh.outboundTrafficPolicy.mode, after.mesh.outboundTrafficPolicy.mode];
  if (m1 !== m2) out.push({ resource: "meshConfig", what: `outboundTrafficPolicy ${m1} → ${m2}`, added: [], removed: [] });
  return out;
}

/** One line per change: what, and the hosts it adds (+) and takes away (−). */
export function describeEgressChange(c: EgressChange): string {
  const hosts = [...c.added.map((h) => `+${h}`), ...c.removed.map((h) => `−${h}`)].join(", ");
  return `${c.resource} ${c.what}${hosts ? `: ${hosts}` : ""}`;
}
