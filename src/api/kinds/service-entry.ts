import { checkCidr } from "../cidr.js";
import { checkHost } from "../host.js";
import type { Reader } from "../reader.js";
import type { Origin, Resolution, ServiceEntry } from "../types.js";
import { readProtocol } from "./common.js";
import { readExportTo, readMeta, readSelector } from "./meta.js";
import { isHttp } from "../protocol.js";
import { isIP } from "node:net";

const RESOLUTIONS: readonly Resolution[] = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"];

export function readServiceEntry(doc: Reader, origin: Origin): ServiceEntry {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["hosts", "addresses", "ports", "location", "resolution", "endpoints", "workloadSelector", "exportTo", "subjectAltNames"]);
  const resolution = spec.field("resolution").enumOf(RESOLUTIONS, "NONE")!;
  const hostsR = spec.field("hosts");
  const hosts = hostsR.nonEmptyStrings();
  hosts.forEach((h, i) => {
    const err = h === "*" ? "a ServiceEntry host must not be \"*\"" : checkHost(h);
    if (err) hostsR.error(err, `${hostsR.path}[${i}]`);
    else if (resolution === "DYNAMIC_DNS" && !h.startsWith("*")) hostsR.error("host must be wildcarded for resolution mode DYNAMIC_DNS", `${hostsR.path}[${i}]`);
    else if (h.startsWith("*") && !h.startsWith("*.") && resolution !== "DYNAMIC_DNS") hostsR.warn(`partial wildcard "${h}" not allowed (matched as a suffix)`, `${hostsR.path}[${i}]`);
  });
  const addrR = spec.field("addresses");
  const addresses = addrR.strings();
  addresses.forEach((a, i) => {
    const err = checkCidr(a);
    if (err) addrR.error(err, `${addrR.path}[${i}]`);
    else if (a.includes("/") && resolution !== "NONE" && resolution !== "STATIC") addrR.error("CIDR addresses are allowed only for NONE/STATIC resolution types", `${addrR.path}[${i}]`);
  });
  const portNumbers = new Set<number>();
  const portNames = new Set<string>();
  const ports = spec.field("ports").list().map((p) => {
    p.object(["number", "protocol", "name", "targetPort"]);
    const number = p.field("number").port({ required: true }) ?? 0;
    if (portNumbers.has(number)) p.field("number").error(`port ${number} is listed twice`);
    portNumbers.add(number);
    const name = p.field("name").string({ required: true }) ?? "";
    if (name && portNames.has(name)) p.field("name").error(`service entry port name "${name}" already defined`);
    portNames.add(name);
    return { number, name, protocol: readProtocol(p.field("protocol"), false) ?? "TCP", targetPort: p.field("targetPort").port() };
  });
  if (resolution === "DYNAMIC_DNS") {
    if (addresses.length) addrR.error("addresses cannot be set for resolution type DYNAMIC_DNS");
    ports.forEach((p, i) => {
      if (!["HTTP", "TLS", "GRPC", "HTTP2"].includes(p.protocol)) spec.field("ports").error("only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS", `${spec.field("ports").path}[${i}].protocol`);
    });
  }
  // validateServiceEntry: one host per TCP listener unless the protocol carries a name (HTTP, TLS SNI).
  if (resolution !== "NONE" && hosts.length > 1 && ports.some((p) => !isHttp(p.protocol) && p.protocol !== "TLS" && p.protocol !== "HTTPS")) {
    spec.field("ports").error("multiple hosts provided with non-HTTP, non-TLS ports");
  }
  const endpoints = spec.field("endpoints").list().map((e) => {
    e.object(["address", "ports", "labels", "network", "locality", "weight", "serviceAccount"]);
    const pr = e.field("ports");
    const eports: Record<string, number> = {};
    for (const k of pr.keys()) {
      const n = pr.field(k).port();
      if (n !== undefined) eports[k] = n;
    }
    for (const k of Object.keys(eports)) if (!portNames.has(k)) pr.field(k).error(`endpoint port ${k} is not defined by the service entry`);
    const address = e.field("address").string();
    if (address !== undefined && (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") && !isIP(address) && checkHost(address, { wildcard: false })) {
      e.field("address").error(`endpoint address "${address}" is not a valid FQDN or an IP address`);
    }
    if (address !== undefined && resolution === "STATIC") {
      // validateWorkloadEntry for STATIC: an IP address or a unix socket (an absolute path, no ports, one service port).
      if (address.startsWith("unix://")) {
        const path = address.slice(7);
        if (!path.startsWith("/") && !path.startsWith("@")) e.field("address").error("UDS must be an absolute path or abstract socket");
        if (Object.keys(eports).length) pr.error("UDS may not include ports");
        if (ports.length > 1) e.field("address").error("a unix socket endpoint cannot serve more than one service port");
      } else if (!isIP(address)) e.field("address").error(`endpoint address "${address}" is not an IP address (resolution STATIC)`);
    }
    return { address, ports: eports, labels: readSelector(e.field("labels")) ?? {}, serviceAccount: e.field("serviceAccount").string() };
  });
  if (resolution === "NONE" && endpoints.length) spec.field("endpoints").error("no endpoints should be provided for resolution type none");
  if (resolution === "DYNAMIC_DNS" && endpoints.length) spec.field("endpoints").error("endpoints cannot be set for resolution type DYNAMIC_DNS");
  if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) spec.field("endpoints").error("there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN");
  const ws = spec.field("workloadSelector").object(["labels"]);
  if (ws.present && endpoints.length) spec.error("workloadSelector and endpoints are mutually exclusive");
  if ((resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") && !endpoints.length) {
    hosts.forEach((h, i) => {
      if (h.startsWith("*")) hostsR.error(`wildcard host "${h}" cannot be resolved by DNS without endpoints`, `${hostsR.path}[${i}]`);
    });
  }
  return {
    kind: "ServiceEntry", meta, origin, hosts, addresses, ports, resolution, endpoints,
    location: spec.field("location").enumOf(["MESH_EXTERNAL", "MESH_INTERNAL"] as const, "MESH_EXTERNAL")!,
    workloadSelector: ws.present ? readSelector(ws.field("labels")) ?? {} : undefined,
    exportTo: readExportTo(spec.field("exportTo")),
    subjectAltNames: spec.field("subjectAltNames").strings(),
  };
}
