// TLS handshake outcomes from certificates alone: chain to a trusted root,
// validity at `now`, and the name check a client makes. Pure.
import { isIP } from "node:net";
import { createHash, type X509Certificate } from "node:crypto";
import type { TlsVersion } from "../api/types.js";

export interface TlsCheck {
  ok: boolean;
  reason: string;
}

function chainsTo(chain: readonly X509Certificate[], roots: readonly X509Certificate[], now: Date): TlsCheck {
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: "no certificate presented" };
  for (const c of chain) {
    if (now < new Date(c.validFrom) || now > new Date(c.validTo)) {
      return { ok: false, reason: `certificate "${c.subject.replace(/\n/g, ", ")}" is not valid at ${now.toISOString()} (valid ${c.validFrom} to ${c.validTo})` };
    }
  }
  let cur = leaf;
  for (let depth = 0; depth < 8; depth++) {
    if (roots.some((r) => cur.checkIssued(r) && cur.verify(r.publicKey))) return { ok: true, reason: "chains to a trusted root" };
    const next = chain.find((c) => c !== cur && cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!next) break;
    cur = next;
  }
  return { ok: false, reason: `certificate issued by "${leaf.issuer.replace(/\n/g, ", ")}" does not chain to a trusted root` };
}

/** The client's verification of a server certificate for `serverName`. */
export function verifyServerCert(chain: readonly X509Certificate[], trust: readonly X509Certificate[], serverName: string, now: Date): TlsCheck {
  const c = chainsTo(chain, trust, now);
  if (!c.ok) return c;
  const leaf = chain[0]!;
  const nameOk = isIP(serverName) ? leaf.checkIP(serverName) !== undefined : leaf.checkHost(serverName) !== undefined;
  if (!nameOk) return { ok: false, reason: `certificate (${leaf.subjectAltName ?? leaf.subject}) does not match the name "${serverName}"` };
  return { ok: true, reason: `server certificate for ${serverName} chains to a trusted root` };
}

/** A MUTUAL server's verification of the client's certificate. */
export function verifyClientCert(chain: readonly X509Certificate[] | undefined, clientRoots: readonly X509Certificate[], now: Date): TlsCheck {
  if (!chain?.length) return { ok: false, reason: "the server requires a client certificate and none was presented" };
  if (!clientRoots.length) return { ok: false, reason: "the server has no CA to verify client certificates (ca.crt or NAME-cacert missing)" };
  const c = chainsTo(chain, clientRoots, now);
  return c.ok ? { ok: true, reason: "client certificate chains to the server's client CA" } : { ok: false, reason: `client certificate rejected: ${c.reason}` };
}

const ORDER: TlsVersion[] = ["TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"];

/**
 * Whether a modern client (TLS 1.2–1.3, as curl and Node) and a server limited
 * to [min, max] share a protocol version. TLS_AUTO means Envoy's defaults (1.2–1.3).
 */
export function versionsOverlap(min: TlsVersion, max: TlsVersion): TlsCheck {
  const lo = ORDER.indexOf(min === "TLS_AUTO" ? "TLSV1_2" : min);
  const hi = ORDER.indexOf(max === "TLS_AUTO" ? "TLSV1_3" : max);
  const ok = Math.max(lo, 2) <= Math.min(hi, 3);
  return ok ? { ok, reason: "protocol versions overlap" } : { ok, reason: `server allows ${min}..${max}, the client speaks TLS 1.2–1.3` };
}

/** Client-certificate checks a MUTUAL Gateway server adds to chain verification (Envoy's SAN matcher and pins). */
export interface ClientCertRules {
  subjectAltNames: readonly string[];
  verifyCertificateSpki: readonly string[];
  verifyCertificateHash: readonly string[];
}

/** The SAN values of a certificate without their type prefixes ("DNS:", "URI:", "email:", "IP Address:"). */
export function sanValues(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "").split(/,\s*/).map((e) => e.replace(/^(DNS|URI|email|IP Address):/, "")).filter(Boolean);
}

export function clientCertAccepted(leaf: X509Certificate, rules: ClientCertRules): TlsCheck {
  if (rules.subjectAltNames.length) {
    const sans = sanValues(leaf);
    if (!rules.subjectAltNames.some((n) => sans.includes(n))) {
      return { ok: false, reason: `client certificate SANs (${sans.join(", ") || "none"}) include none of subjectAltNames (${rules.subjectAltNames.join(", ")})` };
    }
  }
  const pinned = rules.verifyCertificateSpki.length || rules.verifyCertificateHash.length;
  if (pinned) {
    const spki = createHash("sha256").update(leaf.publicKey.export({ type: "spki", format: "der" })).digest("base64");
    const hash = leaf.fingerprint256.replace(/:/g, "").toLowerCase();
    if (!rules.verifyCertificateSpki.includes(spki) && !rules.verifyCertificateHash.includes(hash)) {
      return { ok: false, reason: "client certificate matches neither verifyCertificateSpki nor verifyCertificateHash" };
    }
  }
  return { ok: true, reason: "client certificate passes the server's SAN and pin checks" };
}

/**
 * Whether a client (TLS 1.2–1.3) finds a cipher suite: TLS 1.3 suites are not
 * restricted; under TLS 1.2 one allowed suite must suit the certificate's key.
 */
export function cipherCheck(cipherSuites: readonly string[], max: TlsVersion, keyType: string | undefined): TlsCheck {
  if (!cipherSuites.length || max === "TLS_AUTO" || max === "TLSV1_3") return { ok: true, reason: "cipher suites: TLS 1.3 suites are always available" };
  const fits = cipherSuites.filter((c) => (/ECDSA/i.test(c) ? keyType === "ec" : keyType === "rsa"));
  if (!fits.length) return { ok: false, reason: `none of cipherSuites (${cipherSuites.join(", ")}) works with the server's ${keyType ?? "unknown"} key under TLS 1.2` };
  return { ok: true, reason: `cipher suite ${fits[0]} is shared` };
}
