// The effective PeerAuthentication mode for one workload port:
// workload (with port-level override) over namespace over mesh (root namespace).
import { BoundedMap } from "../bounded-map.js";
import { selectorMatches } from "../api/match.js";
import type { MtlsMode, PeerAuthentication } from "../api/types.js";
import type { Workload } from "../registry/model.js";
import type { PolicyIndex } from "./index.js";

export interface MtlsVerdict {
  mode: Exclude<MtlsMode, "UNSET">;
  /** The resources that set the mode, most specific first. */
  from: string[];
  explanation: string;
}

const nameOf = (p: PeerAuthentication) => `PeerAuthentication/${p.meta.namespace}/${p.meta.name}`;

/**
 * A workload's verdicts by port, per snapshot: both sidecars of every request ask (they are pure; a verdict is never
 * changed). Bounded: a pod's captured inbound sees any port.
 */
const verdictsByPort = () => new BoundedMap<number, MtlsVerdict>(256);

export function effectiveMtls(index: PolicyIndex, w: Workload, port: number): MtlsVerdict {
  const byPort = index.derive(verdictsByPort, w);
  let v = byPort.get(port);
  if (!v) byPort.set(port, (v = mtlsOf(index, w, port)));
  return v;
}

function mtlsOf(index: PolicyIndex, w: Workload, port: number): MtlsVerdict {
  const root = index.rootNamespace;
  // Istio uses the oldest when several match at one level; snapshots are name-ordered, so first wins.
  const meshLevel = (index.peerAuthn.get(root) ?? []).find((p) => !p.selector || Object.keys(p.selector).length === 0);
  const nsPolicies = index.peerAuthn.get(w.namespace) ?? [];
  const nsLevel = w.namespace === root ? meshLevel : nsPolicies.find((p) => !p.selector || Object.keys(p.selector).length === 0);
  const wlLevel = nsPolicies.find((p) => p.selector && Object.keys(p.selector).length > 0 && selectorMatches(p.selector, w.labels));

  const layers: [string, PeerAuthentication | undefined, MtlsMode | undefined][] = [
    ["port", wlLevel, wlLevel?.portLevel[port]],
    ["workload", wlLevel, wlLevel?.mode],
    ["namespace", nsLevel, nsLevel?.mode],
    ["mesh", meshLevel, meshLevel?.mode],
  ];
  const from: string[] = [];
  for (const [level, p, mode] of layers) {
    if (!p || !mode || mode === "UNSET") continue;
    from.push(nameOf(p));
    return { mode, from, explanation: `${mode} from the ${level}-level ${nameOf(p)}${level === "port" ? ` (portLevelMtls ${port})` : ""}` };
  }
  return { mode: "PERMISSIVE", from, explanation: "PERMISSIVE (no PeerAuthentication sets a mode; Istio's default)" };
}
