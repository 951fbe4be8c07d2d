// The scenario's test PKI: one self-signed root per issuer name, and the
// server and client certificates it declares. Real certificates, so the
// static engine and the live mesh verify the same bytes.
import type { X509Certificate } from "node:crypto";
import { createRoot, issueLeaf, type KeyedCert } from "../ca/x509.js";
import type { Scenario } from "./model.js";

export interface TestPki {
  roots: Map<string, KeyedCert>;
  certs: Map<string, KeyedCert & { issuer: string }>;
  externals: Map<string, KeyedCert>;
  /** The roots a probe's `ca` names: a certificate's issuer, or a test CA by name. */
  trustFor(ca: string): X509Certificate[];
  chainOf(name: string): X509Certificate[];
  /** Kubernetes Secrets the scenario declares, as YAML documents. */
  secretsYaml(): string;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

export async function buildPki(s: Scenario, now: Date): Promise<TestPki> {
  const validity = { notBefore: new Date(now.getTime() - 3_600_000), notAfter: new Date(now.getTime() + 30 * 86_400_000) };
  const roots = new Map<string, KeyedCert>();
  const root = async (name: string) => {
    let r = roots.get(name);
    if (!r) roots.set(name, (r = await createRoot(`${name} test CA`, validity)));
    return r;
  };
  const certs = new Map<string, KeyedCert & { issuer: string }>();
  for (const c of s.certificates) {
    const leaf = await issueLeaf(await root(c.issuer), { commonName: c.hosts[0] ?? c.name, dnsNames: c.hosts, client: c.client, server: !c.client, validity });
    certs.set(c.name, { ...leaf, issuer: c.issuer });
  }
  const externals = new Map<string, KeyedCert>();
  for (const e of s.externals) {
    if (e.ports.some(isTlsPort)) externals.set(e.host, await issueLeaf(await root("external"), { commonName: e.host, dnsNames: [e.host], validity }));
  }
  await root("external");

  return {
    roots, certs, externals,
    trustFor(ca) {
      const cert = certs.get(ca);
      const r = roots.get(cert ? cert.issuer : ca);
      return r ? [r.cert] : [];
    },
    chainOf(name) {
      const c = certs.get(name);
      return c ? [c.cert] : [];
    },
    secretsYaml() {
      return s.certificates.filter((c) => c.secret).map((c) => {
        const leaf = certs.get(c.name)!;
        const sec = c.secret!;
        const data: Record<string, string> = { "tls.crt": b64(leaf.certPem), "tls.key": b64(leaf.keyPem) };
        if (sec.withCa) data["ca.crt"] = b64(roots.get(c.issuer)!.certPem);
        return [
          "apiVersion: v1", "kind: Secret", "metadata:", `  name: ${sec.name}`, `  namespace: ${sec.namespace}`,
          `type: ${sec.withCa ? "Opaque" : "kubernetes.io/tls"}`, "data:",
          ...Object.entries(data).map(([k, v]) => `  ${k}: ${v}`),
        ].join("\n");
      }).join("\n---\n");
    },
  };
}

/** Externals serve HTTPS on 443 (and 8443); every other port is plain HTTP. */
export function isTlsPort(port: number): boolean {
  return port === 443 || port === 8443;
}
