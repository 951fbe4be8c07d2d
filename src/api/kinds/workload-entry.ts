import { checkCidr } from "../cidr.js";
import type { Reader } from "../reader.js";
import type { Origin, WorkloadEntry } from "../types.js";
import { readMeta } from "./meta.js";

export function readWorkloadEntry(doc: Reader, origin: Origin): WorkloadEntry {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["address", "ports", "labels", "network", "locality", "weight", "serviceAccount"]);
  const addrR = spec.field("address");
  const address = addrR.string();
  if (address && checkCidr(address) && !/^[a-z0-9.-]+$/.test(address) && !address.startsWith("unix://")) addrR.error(`"${address}" is not an IP address, hostname or unix socket`);
  const ports: Record<string, number> = {};
  const pr = spec.field("ports").object();
  for (const k of pr.keys()) {
    const n = pr.field(k).port();
    if (n !== undefined) ports[k] = n;
  }
  return {
    kind: "WorkloadEntry", meta, origin, address, ports,
    labels: spec.field("labels").stringMap(),
    serviceAccount: spec.field("serviceAccount").string() ?? "default",
    network: spec.field("network").string(),
  };
}
