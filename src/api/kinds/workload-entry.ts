import { checkCidr } from "../cidr.js";
import type { Reader } from "../reader.js";
import type { Origin, WorkloadEntry } from "../types.js";
import { readMeta } from "./meta.js";

export function readWorkloadEntry(doc: Reader, origin: Origin): WorkloadEntry {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec");
  if (!spec.present) spec.error("is required");
  spec.object(["address", "ports", "labels", "network", "locality", "weight", "serviceAccount"]);
  const ports = readWorkloadEntryPorts(spec);
  const address = readWorkloadAddress(spec, Object.keys(ports).length > 0);
  return {
    kind: "WorkloadEntry", meta, origin, address, ports,
    labels: spec.field("labels").stringMap(),
    serviceAccount: spec.field("serviceAccount").string() ?? "default",
    network: spec.field("network").string(),
  };
}

/** The CRD's rules for a workload's address: required unless a network is named; a unix socket is an absolute path or abstract, not a directory, and has no ports. */
export function readWorkloadAddress(r: Reader, hasPorts: boolean): string | undefined {
  const at = r.field("address");
  const address = at.string();
  if (address === undefined) {
    if (r.present && !r.field("network").present) r.error("Address is required");
    return undefined;
  }
  if (address.length > 256) at.error("must be at most 256 characters");
  if (address.startsWith("unix://")) {
    const path = address.slice(7);
    if (!path.startsWith("/") && !path.startsWith("@")) at.error("UDS must be an absolute path or abstract socket");
    else if (address.endsWith("/")) at.error("UDS may not be a dir");
    if (hasPorts) r.error("UDS may not include ports");
  } else if (checkCidr(address) && !/^[a-z0-9.-]+$/.test(address)) at.error(`"${address}" is not an IP address, hostname or unix socket`);
  return address;
}

/** `ports`: names as the CRD allows them (alphanumeric and "-", under 63 characters), numbers 1–65535. */
export function readWorkloadEntryPorts(r: Reader): Record<string, number> {
  const ports: Record<string, number> = {};
  const pr = r.field("ports").object();
  for (const k of pr.keys()) {
    if (k.length >= 63 || !/^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(k)) pr.error(`port name "${k}" must be valid`);
    const n = pr.field(k).port();
    if (n !== undefined) ports[k] = n;
  }
  return ports;
}
