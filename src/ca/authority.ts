// The mesh CA: signs workload certificates (SPIFFE URI SAN) from CSRs, and
// only for the identity the requester has proven.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Codes, ZmError } from "../api/errors.js";
import { createRoot, issueLeaf, loadKeyedCert, parseCsr, type KeyedCert } from "./x509.js";

export interface IssuedCert {
  certPem: string;
  /** Intermediates (for a plug-in CA) up to but excluding the root. */
  chainPem: string;
  rootPem: string;
  notAfter: Date;
}

export interface CaOptions {
  stateDir: string;
  /** Istio's plug-in CA layout; when set, no root is generated. */
  pluginDir?: string;
  workloadTtlMs: number;
  now?: () => Date;
}

const PLUGIN_FILES = ["ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"] as const;

/**
 * Whether `cert` chains to `root` through certificates of `pool`: each one issued (by name and by signature) by
 * the next, the last by the root. The root merely being in the pool proves nothing.
 */
function leadsToRoot(cert: X509Certificate, pool: X509Certificate[], root: X509Certificate): boolean {
  const used = new Set<string>();
  for (let current = cert; ; ) {
    if (current.checkIssued(root) && current.verify(root.publicKey)) return true;
    const issuer = pool.find((c) => !used.has(c.fingerprint256) && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) return false;
    used.add(issuer.fingerprint256);
    current = issuer;
  }
}

export class CertificateAuthority {
  private constructor(
    private readonly signer: KeyedCert,
    readonly rootPem: string,
    readonly chainPem: string,
    private readonly ttlMs: number,
    private readonly now: () => Date,
    readonly source: string,
  ) {}

  static async open(opts: CaOptions): Promise<CertificateAuthority> {
    const now = opts.now ?? (() => new Date());
    if (opts.pluginDir) return CertificateAuthority.openPlugin(opts.pluginDir, opts.workloadTtlMs, now);
    const dir = join(opts.stateDir, "ca");
    const certFile = join(dir, "root-cert.pem");
    const keyFile = join(dir, "root-key.pem");
    if (existsSync(certFile) && existsSync(keyFile)) {
      const signer = await loadKeyedCert(readFileSync(certFile, "utf8"), readFileSync(keyFile, "utf8"));
      return new CertificateAuthority(signer, signer.certPem, "", opts.workloadTtlMs, now, `self-signed root in ${dir}`);
    }
    const t = now();
    const signer = await createRoot("zeromesh root CA", { notBefore: new Date(t.getTime() - 3_600_000), notAfter: new Date(t.getTime() + 10 * 365 * 86_400_000) });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(keyFile, signer.keyPem, { mode: 0o600 });
    writeFileSync(certFile, signer.certPem);
    return new CertificateAuthority(signer, signer.certPem, "", opts.workloadTtlMs, now, `self-signed root created in ${dir}`);
  }

  private static async openPlugin(dir: string, ttlMs: number, now: () => Date): Promise<CertificateAuthority> {
    const missing = PLUGIN_FILES.filter((f) => !existsSync(join(dir, f)));
    if (missing.length) throw new ZmError(Codes.CA_PLUGIN, `${dir}: plug-in CA is missing ${missing.join(", ")} (Istio's layout: ${PLUGIN_FILES.join(", ")})`);
    const read = (f: string) => readFileSync(join(dir, f), "utf8");
    let signer: KeyedCert;
    try {
      signer = await loadKeyedCert(read("ca-cert.pem"), read("ca-key.pem"));
    } catch (e) {
      throw new ZmError(Codes.CA_PLUGIN, `${dir}/ca-key.pem: ${(e as Error).message}`);
    }
    if (!signer.cert.ca) throw new ZmError(Codes.CA_PLUGIN, `${dir}/ca-cert.pem is not a CA certificate (basicConstraints CA:TRUE is required)`);
    if (!signer.cert.checkPrivateKey(createPrivateKey(signer.keyPem))) throw new ZmError(Codes.CA_PLUGIN, `${dir}/ca-key.pem does not belong to ca-cert.pem`);
    const rootPem = read("root-cert.pem");
    const chainPem = read("cert-chain.pem");
    const root = new X509Certificate(rootPem);
    const chain = (chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
    if (!leadsToRoot(signer.cert, chain, root)) throw new ZmError(Codes.CA_PLUGIN, `${dir}: cert-chain.pem does not lead from ca-cert.pem to root-cert.pem`);
    // Workloads present their leaf, ca-cert and the rest of the chain, so peers need only the root.
    const intermediates = chainPem.includes(signer.certPem.trim()) ? chainPem : signer.certPem + chainPem;
    return new CertificateAuthority(signer, rootPem, intermediates, ttlMs, now, `plug-in CA from ${dir}`);
  }

  /**
   * Signs `csrPem` for `spiffeId`, which the caller has already proven (a
   * bootstrap credential). The CSR must ask for exactly that identity.
   */
  async sign(csrPem: string, spiffeId: string): Promise<IssuedCert> {
    let csr;
    try {
      csr = await parseCsr(csrPem);
    } catch (e) {
      throw new ZmError(Codes.CA_CSR, `the certificate request does not parse or verify: ${(e as Error).message}`);
    }
    if (csr.uris.length !== 1 || csr.uris[0] !== spiffeId || csr.dnsNames.length) {
      throw new ZmError(Codes.CA_IDENTITY, `the certificate request asks for ${[...csr.uris, ...csr.dnsNames].join(", ") || "no identity"}, but the requester proved ${spiffeId}; refused`);
    }
    const t = this.now();
    const notAfter = new Date(t.getTime() + this.ttlMs);
    const leaf = await issueLeaf(this.signer, {
      commonName: spiffeId.split("/").slice(-3).join("/"), uris: [spiffeId], server: true, client: true,
      publicKey: csr.publicKey, validity: { notBefore: new Date(t.getTime() - 5 * 60_000), notAfter },
    });
    return { certPem: leaf.certPem, chainPem: this.chainPem, rootPem: this.rootPem, notAfter };
  }
}
