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
  return { kind: "Gateway", meta, origin, selector: spec.field("selector").stringMap(), servers };
}

function readServer(s: Reader, index: number): GatewayServer {
  s.object(["port", "bind", "hosts", "tls", "name", "defaultEndpoint"]);
  const p = s.field("port").object(["number", "name", "protocol", "targetPort"]);
  if (!p.present) p.error("is required");
  const number = p.field("number").port({ required: true }) ?? 0;
  const name = p.field("name").string({ required: true }) ?? "";
  const protocol = readProtocol(p.field("protocol")) ?? "TCP";
  const hostsR = s.field("hosts");
  const hosts: GatewayServer["hosts"] = [];
  const rawHosts = hostsR.nonEmptyStrings();
  rawHosts.forEach((raw, i) => {
    const split = splitNsHost(raw) ?? { namespace: "*", host: raw };
    const err = checkNsPart(split.namespace, ["*", "."]) ?? checkHost(split.host);
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
  ]);
  if (t.present) {
    const mode = t.field("mode").enumOf(TLS_MODES, "PASSTHROUGH")!;
    const credentialName = t.field("credentialName").string();
    const httpsRedirect = t.field("httpsRedirect").bool();
    const hasFiles = t.field("serverCertificate").present;
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
    const terminates = mode === "SIMPLE" || mode === "MUTUAL" || mode === "OPTIONAL_MUTUAL";
    if (terminates && protocol !== "HTTP" && !credentialName && !hasFiles) {
      t.error(`mode ${mode} needs credentialName (or serverCertificate and privateKey)`);
    }
    if (mode === "PASSTHROUGH" && protocol === "HTTPS" && t.field("mode").present) {
      // Istio accepts this, but HTTPS + PASSTHROUGH routes by SNI like TLS; nothing to reject.
    }
  } else if ((protocol === "HTTPS" || protocol === "TLS")) {
    s.field("tls").error(`server with protocol ${protocol} must have tls settings`);
  }
  return server;
}

/** Known cipher names kept in order; unknown ones are warned about and dropped, as Istio does; none known is an error. */
function readCipherSuites(r: Reader): string[] {
  const names = r.strings();
  const known = new Set(getCiphers().map((c) => c.toUpperCase()));
  const kept = names.filter((n, i) => {
    if (known.has(n.toUpperCase())) return true;
    r.warn(`cipher suite "${n}" is not supported and is ignored`, `${r.path}[${i}]`);
    return false;
  });
  if (names.length && !kept.length) r.error("none of the cipher suites is supported (use OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256)");
  return kept;
}

/** SHA-256 fingerprints, hex with or without colons; kept as lower-case hex. */
function readHashes(r: Reader): string[] {
  return r.strings().map((h, i) => {
    const hex = h.replace(/:/g, "").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) r.error(`"${h}" is not a hex SHA-256 fingerprint`, `${r.path}[${i}]`);
    return hex;
  });
}