// Resource type names as kubectl and istioctl take them: the kind, its plural,
// lower or upper case, and the short names (vs, gw, dr, se, ap, pa, ra…).
import { Codes, ZmError } from "../api/errors.js";
import { KINDS, type Kind } from "../api/types.js";

const SHORT: Record<string, Kind> = {
  ns: "Namespace", sa: "ServiceAccount", svc: "Service", po: "Pod", deploy: "Deployment", rs: "ReplicaSet", sts: "StatefulSet",
  gw: "Gateway", vs: "VirtualService", dr: "DestinationRule", se: "ServiceEntry", we: "WorkloadEntry",
  ap: "AuthorizationPolicy", pa: "PeerAuthentication", ra: "RequestAuthentication", telemetry: "Telemetry",
};

const plural = (k: string) => (k.endsWith("y") ? `${k.slice(0, -1)}ies` : k.endsWith("s") ? `${k}es` : `${k}s`);

/** The kind a user's word names, or a usage error listing what exists. */
export function resolveKind(word: string): Kind {
  const w = word.toLowerCase();
  const short = SHORT[w];
  if (short) return short;
  const kind = KINDS.find((k) => k.toLowerCase() === w || plural(k.toLowerCase()) === w);
  if (kind) return kind;
  throw new ZmError(Codes.USAGE, `the server doesn't have a resource type "${word}"; known: ${KINDS.map((k) => k.toLowerCase()).join(", ")} (short: ${Object.keys(SHORT).join(", ")})`);
}
