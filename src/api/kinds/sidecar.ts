import { checkHost } from "../host.js";
import type { Reader } from "../reader.js";
import type { Origin, Sidecar, SidecarEgress, SidecarIngress } from "../types.js";
import { checkNsPart, readProtocol, splitNsHost } from "./common.js";
import { readMeta } from "./meta.js";

const ENDPOINT = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):(\d+)$|^unix:\/\/.+$/;

export function readSidecar(doc: Reader, origin: Origin): Sidecar {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["workloadSelector", "ingress", "egress", "outboundTrafficPolicy", "inboundConnectionPool"]);
  const ws = spec.field("workloadSelector").object(["labels"]);
  const egress = spec.field("egress").list().map(readEgress);
  const ingress = spec.field("ingress").list().map(readIngress);
  const otp = spec.field("outboundTrafficPolicy").object(["mode", "egressProxy"]);
  const outboundTrafficPolicy = otp.field("mode").enumOf(["ALLOW_ANY", "REGISTRY_ONLY"] as const);
  if (!egress.length && !ingress.length && !otp.present) spec.error("empty Sidecar: set egress, ingress or outboundTrafficPolicy");
  const catchAll = egress.filter((e) => !e.port);
  if (catchAll.length > 1) spec.field("egress").error("only one egress listener may omit the port (the catch-all)");
  return {
    kind: "Sidecar", meta, origin, egress, ingress, outboundTrafficPolicy,
    workloadSelector: ws.present ? ws.field("labels").stringMap() : undefined,
  };
}

function readPort(p: Reader, required: boolean): SidecarIngress["port"] | undefined {
  p.object(["number", "protocol", "name", "targetPort"]);
  if (!p.present) {
    if (required) p.error("is required");
    return undefined;
  }
  return { number: p.field("number").port({ required: true }) ?? 0, protocol: readProtocol(p.field("protocol")) ?? "TCP", name: p.field("name").string() };
}

function readEgress(e: Reader): SidecarEgress {
  e.object(["port", "bind", "captureMode", "hosts"]);
  const hostsR = e.field("hosts");
  const raw = hostsR.nonEmptyStrings();
  const hosts = raw.map((h, i) => {
    const split = splitNsHost(h);
    if (!split) {
      hostsR.error(`"${h}" must have the form namespace/dnsName (for example "./*" or "istio-system/*")`, `${hostsR.path}[${i}]`);
      return { namespace: "~", dnsName: "", raw: h };
    }
    const err = checkNsPart(split.namespace, ["*", ".", "~"]) ?? checkHost(split.host);
    if (err) hostsR.error(err, `${hostsR.path}[${i}]`);
    return { namespace: split.namespace, dnsName: split.host, raw: h };
  });
  return { port: readPort(e.field("port"), false), bind: e.field("bind").string(), captureMode: e.field("captureMode").string(), hosts };
}

function readIngress(i: Reader): SidecarIngress {
  i.object(["port", "bind", "captureMode", "defaultEndpoint", "tls", "connectionPool"]);
  const ep = i.field("defaultEndpoint");
  const defaultEndpoint = ep.string();
  if (defaultEndpoint !== undefined && !ENDPOINT.test(defaultEndpoint)) {
    ep.error(`"${defaultEndpoint}" must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT or unix://PATH`);
  }
  return { port: readPort(i.field("port"), true) ?? { number: 0, protocol: "TCP" }, bind: i.field("bind").string(), defaultEndpoint };
}
