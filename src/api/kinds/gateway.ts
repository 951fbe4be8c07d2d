import { isIP } from "node:net";
import { getCiphers } from "node:tls";
import { checkHost } from "../host.js";
import type { Reader } from "../reader.js";
import type { Gateway, GatewayServer, Origin, TlsMode, TlsVersion } from "../types.js";
import { checkNsPart, readProtocol, splitNsHost } from "./common.js";
import { readMeta } from "./meta.js";

const TLS_MODES: readonly TlsMode[] = ["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"];
const TLS_VERSIONS: readonly TlsVersion[] = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"];

export function readGateway(doc: Reader, origin: Origin): Gateway {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["selector", "servers"]);
  const serversR = spec.field("servers");
  const servers = serversR.list({ required: true }).map((s, i) => readServer(s, i));
  if (Array.isArray(serversR.value) && servers.length === 0) serversR.error("must have at least one server");
  // validateGateway: a port name names one port across the Gateway's servers.
  const names = new Map<string, number>();
  servers.forEach((sv, i) => {
    const other = names.get(sv.port.name);
    if (sv.port.name && other !== undefined && other !== sv.port.number) serversR.error(`port names in servers must be unique: duplicate name ${sv.port.name}`, `${serversR.path}[${i}].port.name`);
    names.set(sv.port.name, sv.port.number);
  });
  return { kind: "Gateway", meta, origin, selector: spec.field("selector").stringMap(), servers };
}

function readServer(s: Reader, index: number): GatewayServer {
  s.object(["port", "bind", "hosts", "tls", "name", "defaultEndpoint"]);
  const p = s.field("port").object(["number", "name", "protocol", "targetPort"]);
  if (!p.present) p.error("is required");
  // A server bound to a unix domain socket has port 0; any other has a real port (validateServerBind).
  const bind = s.field("bind").string();
  const uds = bind?.startsWith("unix://") ?? false;
  const number = uds ? p.field("number").int({ required: true }) ?? 0 : p.field("number").port({ required: true }) ?? 0;
  if (uds && number !== 0) p.field("number").error("port number must be 0 for unix domain socket");
  const name = p.field("name").string({ required: true }) ?? "";
  const protocol = readProtocol(p.field("protocol")) ?? "TCP";
  const hostsR = s.field("hosts");
  const hosts: GatewayServer["hosts"] = [];
  const rawHosts = hostsR.nonEmptyStrings();
  rawHosts.forEach((raw, i) => {
    const split = splitNsHost(raw) ?? { namespace: "*", host: raw };
    const err = checkNsPart(split.namespace, ["*", "."]) ?? checkHost(split.host)
      ?? (split.host.startsWith("*") && split.host !== "*" && !split.host.startsWith("*.") ? `partial wildcard "${split.host}" not allowed` : undefined)
      ?? (split.host !== "*" && !split.host.includes(".") && !isIP(split.host) ? `short names (non FQDN) are not allowed ("${split.host}")` : undefined);
    if (err) hostsR.error(err, `${hostsR.path}[${i}]`);
    hosts.push(split);
  });
  const server: GatewayServer = {
    index, hosts, bind: s.field("bind").string(), name: s.field("name").string(),
    port: { number, name, protocol, targetPort: p.field("targetPort").port() },
  };
  const t = s.field("tls").object([
    "httpsRedirect", "mode", "serverCertificate", "privateKey", "caCertificates", "credentialName", "credentialNames",
    "subjectAltNames", "verifyCertificateSpki", "verifyCertificateHash", "minProtocolVersion", "maxProtocolVersion", "cipherSuites", "caCrl",
    "tlsCertificates",
  ]);
  if (t.present) {
    const mode = t.field("mode").enumOf(TLS_MODES, "PASSTHROUGH")!;
    const credentialNames = t.field("credentialNames").strings();
    // Several credentials (an RSA and an ECDSA certificate) for one server: zeromesh serves the first.
    const credentialName = t.field("credentialName").string() ?? credentialNames[0];
    checkServerTls(t, mode);
    const httpsRedirect = t.field("httpsRedirect").bool();
    server.tls = {
      httpsRedirect, mode, credentialName,
      subjectAltNames: t.field("subjectAltNames").strings(),
      verifyCertificateSpki: t.field("verifyCertificateSpki").strings(),
      verifyCertificateHash: readHashes(t.field("verifyCertificateHash")),
      minProtocolVersion: t.field("minProtocolVersion").enumOf(TLS_VERSIONS, "TLS_AUTO")!,
      maxProtocolVersion: t.field("maxProtocolVersion").enumOf(TLS_VERSIONS, "TLS_AUTO")!,
      cipherSuites: readCipherSuites(t.field("cipherSuites")),
    };
    if (mode !== "MUTUAL" && mode !== "OPTIONAL_MUTUAL" && (server.tls.subjectAltNames.length || server.tls.verifyCertificateSpki.length || server.tls.verifyCertificateHash.length)) {
      t.warn(`subjectAltNames and verifyCertificate* check client certificates; mode ${mode} does not ask for one, so they have no effect`);
    }
    if (mode === "PASSTHROUGH" && protocol === "HTTPS" && t.field("mode").present) {
      // Istio accepts this, but HTTPS + PASSTHROUGH routes by SNI like TLS; nothing to reject.
    }
  } else if ((protocol === "HTTPS" || protocol === "TLS")) {
    s.field("tls").error(`server with protocol ${protocol} must have tls settings`);
  }
  return server;
}

/** Known cipher names kept in order; unknown ones (and duplicates) are warned about and dropped, as Istio does. */
function readCipherSuites(r: Reader): string[] {
  const names = r.strings();
  const known = new Set(getCiphers().map((c) => c.toUpperCase()));
  const kept: string[] = [];
  names.forEach((n, i) => {
    if (!known.has(n.toUpperCase())) r.warn(`ignoring invalid cipher suite "${n}"`, `${r.path}[${i}]`);
    else if (kept.includes(n)) r.warn(`ignoring duplicate cipher suite "${n}"`, `${r.path}[${i}]`);
    else kept.push(n);
  });
  if (names.length && !kept.length) r.warn("none of the cipher suites is supported; the defaults apply (use OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256)");
  return kept;
}

/** Istio's validateTLSOptions: which certificate sources each mode takes, and which it needs. */
function checkServerTls(t: Reader, mode: TlsMode): void {
  const str = (f: string) => (typeof t.field(f).value === "string" ? (t.field(f).value as string) : "");
  const certs = t.field("tlsCertificates").list().map((c) => {
    c.object(["serverCertificate", "privateKey"]);
    return { cert: c.field("serverCertificate").string() ?? "", key: c.field("privateKey").string() ?? "" };
  });
  const names = t.field("credentialNames").strings();
  if (mode === "ISTIO_MUTUAL") {
    for (const [f, what] of [["serverCertificate", "server certificate"], ["privateKey", "private key"], ["caCertificates", "CA bundle"], ["credentialName", "credentialName"]] as const) {
      if (str(f)) t.field(f).error(`ISTIO_MUTUAL TLS cannot have associated ${what}`);
    }
    if (certs.length) t.field("tlsCertificates").error("ISTIO_MUTUAL TLS cannot have associated tlsCertificates");
    if (names.length) t.field("credentialNames").error("ISTIO_MUTUAL TLS cannot have associated credentialNames");
    return;
  }
  const sources = [str("serverCertificate") !== "" && str("privateKey") !== "", str("credentialName") !== "", names.length > 0, certs.length > 0].filter(Boolean).length;
  if (sources > 1) t.error("only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates should be specified");
  if (mode !== "SIMPLE" && mode !== "MUTUAL" && mode !== "OPTIONAL_MUTUAL") return;
  if (str("credentialName") || names.length) return;
  const prefix = mode === "SIMPLE" ? "SIMPLE TLS" : "MUTUAL TLS";
  if (mode !== "SIMPLE" && !str("caCertificates")) t.error(`${prefix} requires a client CA bundle`);
  if (certs.length > 2) t.field("tlsCertificates").warn(`${prefix} can support up to 2 server certificates`);
  for (const c of certs.length ? certs : [{ cert: str("serverCertificate"), key: str("privateKey") }]) {
    if (!c.cert) t.error(`${prefix} requires a server certificate`);
    if (!c.key) t.error(`${prefix} requires a private key`);
  }
  if (str("caCrl") && mode === "SIMPLE") t.field("caCrl").error("CRL is not supported with SIMPLE TLS");
}

/** SHA-256 fingerprints, hex with or without colons; kept as lower-case hex. */
function readHashes(r: Reader): string[] {
  return r.strings().map((h, i) => {
    const hex = h.replace(/:/g, "").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) r.error(`"${h}" is not a hex SHA-256 fingerprint`, `${r.path}[${i}]`);
    return hex;
  });
}