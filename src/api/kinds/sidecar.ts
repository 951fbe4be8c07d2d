import { checkHost } from "../host.js";
import type { Reader } from "../reader.js";
import type { Origin, Sidecar, SidecarEgress, SidecarIngress } from "../types.js";
import { checkNsPart, readProtocol, splitNsHost } from "./common.js";
import { readMeta, readSelector } from "./meta.js";
import { readConnectionPool } from "./destination-rule.js";

const ENDPOINT = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\])?:(\d+)$|^unix:\/\/.+$/;

export function readSidecar(doc: Reader, origin: Origin): Sidecar {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["workloadSelector", "ingress", "egress", "outboundTrafficPolicy", "inboundConnectionPool"]);
  const ws = spec.field("workloadSelector").object(["labels"]);
  const egress = spec.field("egress").list().map(readEgress);
  const ingress = spec.field("ingress").list().map(readIngress);
  const otp = spec.field("outboundTrafficPolicy").object(["mode", "egressProxy"]);
  const outboundTrafficPolicy = otp.field("mode").enumOf(["ALLOW_ANY", "REGISTRY_ONLY"] as const);
  readEgressProxy(otp, outboundTrafficPolicy);
  if (spec.field("inboundConnectionPool").present) readConnectionPool(spec.field("inboundConnectionPool"));
  if (!egress.length && !ingress.length && !otp.present && !spec.field("inboundConnectionPool").present) spec.error("empty Sidecar: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool");
  const catchAll = egress.filter((e) => !e.port);
  if (catchAll.length > 1) spec.field("egress").error("only one egress listener may omit the port (the catch-all)");
  else if (catchAll.length && egress.at(-1)?.port) spec.field("egress").error("the egress listener with empty port should be the last listener in the list");
  // Ports on IP-bound listeners are unique per direction; unix sockets by path.
  for (const [list, field] of [[egress, "egress"], [ingress, "ingress"]] as const) {
    const seen = new Set<string>();
    list.forEach((l, i) => {
      if (!l.port) return;
      const key = l.port.number === 0 ? `uds ${l.bind}` : `${l.port.number}`;
      if (seen.has(key)) spec.field(field).error(l.port.number === 0 ? "unix domain socket values for listeners must be unique" : "ports on IP bound listeners must be unique", `${spec.field(field).path}[${i}].port`);
      seen.add(key);
    });
  }
  return {
    kind: "Sidecar", meta, origin, egress, ingress, outboundTrafficPolicy,
    workloadSelector: ws.present ? readSelector(ws.field("labels")) ?? {} : undefined,
  };
}

/** `outboundTrafficPolicy.egressProxy`: only with ALLOW_ANY, a FQDN host and a port (validateSidecarOutboundTrafficPolicy). */
function readEgressProxy(otp: Reader, mode: string | undefined): void {
  const ep = otp.field("egressProxy").object(["host", "subset", "port"]);
  if (!ep.present) return;
  if (mode !== "ALLOW_ANY") return void ep.error("egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode");
  const host = ep.field("host").string({ required: true });
  if (host !== undefined) {
    const err = checkHost(host, { wildcard: false }) ?? (host.includes(".") ? undefined : `"${host}" is not a fully qualified domain name`);
    if (err) ep.field("host").error(err);
  }
  if (!ep.field("port").present) ep.field("port").error("egress_proxy port must be non-nil");
  else ep.field("port").object(["number"]).field("number").port({ required: true });
}

/** A listener's port; number 0 is a unix domain socket listener (egress only, with a unix:// bind). */
function readPort(p: Reader, required: boolean, bind?: string): SidecarIngress["port"] | undefined {
  p.object(["number", "protocol", "name", "targetPort"]);
  if (!p.present) {
    if (required) p.error("is required");
    return undefined;
  }
  if (p.field("targetPort").present) p.field("targetPort").error("targetPort has no impact on Sidecars");
  const uds = !required && p.field("number").value === 0;
  if (uds && !bind?.startsWith("unix://")) p.field("number").error("ports with 0 value must have a unix domain socket bind address");
  const number = uds ? 0 : p.field("number").port({ required: true }) ?? 0;
  return { number, protocol: readProtocol(p.field("protocol"), false) ?? "TCP", name: p.field("name").string() };
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
    // validateNamespaceSlashWildcardHostname: "~" before a namespace excludes; the name is a FQDN or a prefix wildcard.
    const exclude = split.namespace.startsWith("~");
    const ns = exclude ? split.namespace.slice(1) || "*" : split.namespace;
    const err = (!split.namespace || !split.host ? "config namespace and dnsName in host entry cannot be empty" : undefined)
      ?? checkNsPart(ns, ["*", "."])
      ?? checkHost(split.host)
      ?? (split.host !== "*" && !split.host.includes(".") ? `short names (non FQDN) are not allowed ("${split.host}")` : undefined)
      ?? (split.host.startsWith("*") && split.host !== "*" && !split.host.startsWith("*.") ? `partial wildcard "${split.host}" not allowed` : undefined);
    if (err) hostsR.error(err, `${hostsR.path}[${i}]`);
    return { namespace: ns, dnsName: split.host, raw: h, ...(exclude ? { exclude } : {}) };
  });
  const bind = e.field("bind").string();
  const port = readPort(e.field("port"), false, bind);
  const captureMode = e.field("captureMode").enumOf(["DEFAULT", "IPTABLES", "NONE"] as const);
  if (port?.number === 0 && captureMode === "IPTABLES") e.field("captureMode").error("captureMode must be DEFAULT/NONE for unix domain socket listeners");
  return { port, bind, captureMode, hosts };
}

function readIngress(i: Reader): SidecarIngress {
  i.object(["port", "bind", "captureMode", "defaultEndpoint", "tls", "connectionPool"]);
  const ep = i.field("defaultEndpoint");
  const defaultEndpoint = ep.string();
  const m = defaultEndpoint === undefined ? undefined : ENDPOINT.exec(defaultEndpoint);
  if (defaultEndpoint !== undefined && (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) || (defaultEndpoint.startsWith("unix://") && !unixPathOk(defaultEndpoint.slice(7))))) {
    ep.error(`"${defaultEndpoint}" must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix://PATH`);
  }
  const port = readPort(i.field("port"), true) ?? { number: 0, protocol: "TCP" as const };
  readIngressTls(i.field("tls"), port.protocol);
  if (i.field("connectionPool").present) readConnectionPool(i.field("connectionPool"));
  return { port, bind: i.field("bind").string(), defaultEndpoint };
}

/** A unix socket address: an absolute path (not a directory) or an abstract "@name" (ValidateUnixAddress). */
const unixPathOk = (p: string) => (p.startsWith("/") && p.length > 1 && !p.endsWith("/")) || (p.startsWith("@") && p.length > 1);

/** Sidecar ingress TLS: terminated with files in the pod, for HTTPS/TLS ports; gateway-only settings refused (ValidateSidecar). */
function readIngressTls(t: Reader, protocol: string): void {
  if (!t.present) return;
  t.object();
  const refuse = (field: string, what: string) => t.field(field).present && t.field(field).error(`${what} is not supported in sidecar ingress tls`);
  refuse("subjectAltNames", "subjectAltNames");
  if (t.field("httpsRedirect").bool(false)) t.field("httpsRedirect").error("httpsRedirect is not supported in sidecar ingress tls");
  refuse("credentialName", "credentialName");
  refuse("credentialNames", "credentialNames");
  refuse("tlsCertificates", "tlsCertificates");
  const mode = t.field("mode").string();
  if (mode === "ISTIO_MUTUAL" || mode === "AUTO_PASSTHROUGH") t.field("mode").error(`cannot set mode to ${mode} in sidecar ingress tls`);
  if (protocol !== "HTTPS" && protocol !== "TLS") t.error("server cannot have TLS settings for non HTTPS/TLS ports");
}
