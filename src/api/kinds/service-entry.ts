import { checkCidr } from "../cidr.js";
import { checkHost } from "../host.js";
import type { Reader } from "../reader.js";
import type { Origin, Resolution, ServiceEntry } from "../types.js";
import { readProtocol } from "./common.js";
import { readExportTo, readMeta } from "./meta.js";

const RESOLUTIONS: readonly Resolution[] = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"];

export function readServiceEntry(doc: Reader, origin: Origin): ServiceEntry {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["hosts", "addresses", "ports", "location", "resolution", "endpoints", "workloadSelector", "exportTo", "subjectAltNames"]);
  const hostsR = spec.field("hosts");
  const hosts = hostsR.nonEmptyStrings();
  hosts.forEach((h, i) => {
    const err = h === "*" ? "a ServiceEntry host must not be \"*\"" : checkHost(h);
    if (err) hostsR.error(err, `${hostsR.path}[${i}]`);
  });
  const addrR = spec.field("addresses");
  const addresses = addrR.strings();
  addresses.forEach((a, i) => {
    const err = checkCidr(a);
    if (err) addrR.error(err, `${addrR.path}[${i}]`);
  });
  const portNumbers = new Set<number>();
  const ports = spec.field("ports").list().map((p) => {
    p.object(["number", "protocol", "name", "targetPort"]);
    const number = p.field("number").port({ required: true }) ?? 0;
    if (portNumbers.has(number)) p.field("number").error(`port ${number} is listed twice`);
    portNumbers.add(number);
    return { number, name: p.field("name").string({ required: true }) ?? "", protocol: readProtocol(p.field("protocol")) ?? "TCP", targetPort: p.field("targetPort").port() };
  });
  const resolution = spec.field("resolution").enumOf(RESOLUTIONS, "NONE")!;
  const endpoints = spec.field("endpoints").list().map((e) => {
    e.object(["address", "ports", "labels", "network", "locality", "weight", "serviceAccount"]);
    const pr = e.field("ports");
    const eports: Record<string, number> = {};
    for (const k of pr.keys()) {
      const n = pr.field(k).port();
      if (n !== undefined) eports[k] = n;
    }
    return { address: e.field("address").string(), ports: eports, labels: e.field("labels").stringMap(), serviceAccount: e.field("serviceAccount").string() };
  });
  const ws = spec.field("workloadSelector").object(["labels"]);
  if (ws.present && endpoints.length) spec.error("workloadSelector and endpoints are mutually exclusive");
  if (resolution === "STATIC" && !endpoints.length && !ws.present) spec.field("resolution").error("STATIC resolution needs endpoints or a workloadSelector");
  if ((resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") && !endpoints.length) {
    hosts.forEach((h, i) => {
      if (h.startsWith("*")) hostsR.error(`wildcard host "${h}" cannot be resolved by DNS without endpoints`, `${hostsR.path}[${i}]`);
    });
  }
  return {
    kind: "ServiceEntry", meta, origin, hosts, addresses, ports, resolution, endpoints,
    location: spec.field("location").enumOf(["MESH_EXTERNAL", "MESH_INTERNAL"] as const, "MESH_EXTERNAL")!,
    workloadSelector: ws.present ? ws.field("labels").stringMap() : undefined,
    exportTo: readExportTo(spec.field("exportTo")),
    subjectAltNames: spec.field("subjectAltNames").strings(),
  };
}
