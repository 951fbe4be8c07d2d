// Certificate issuance on @peculiar/x509 with Node's WebCrypto: ECDSA P-256
// keys, real X.509 certificates that Node's TLS and X509Certificate accept.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate, randomBytes, webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface KeyedCert {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  /** For signing further certificates with this one. */
  keys: CryptoKeyPair;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key as webcrypto.CryptoKey));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END PRIVATE KEY-----\n`;
}

const serial = () => randomBytes(8).toString("hex").replace(/^[89a-f]/, "1");

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export async function createRoot(commonName: string, validity: Validity): Promise<KeyedCert> {
  const keys = await generateKeys();
  const c = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: `CN=${commonName}, O=zeromesh`, ...validity, keys, signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = c.toString("pem");
  return { certPem, keyPem: await exportKey(keys.privateKey), cert: new X509Certificate(certPem), keys };
}

export interface LeafRequest {
  commonName: string;
  dnsNames?: string[];
  uris?: string[];
  server?: boolean;
  client?: boolean;
  validity: Validity;
  /** Sign this public key instead of generating a key pair (a CSR's key). */
  publicKey?: CryptoKey;
}

export async function issueLeaf(issuer: KeyedCert, req: LeafRequest): Promise<KeyedCert> {
  const keys = req.publicKey ? ({ publicKey: req.publicKey } as CryptoKeyPair) : await generateKeys();
  const names = [...(req.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })), ...(req.uris ?? []).map((value) => ({ type: "url" as const, value }))];
  const eku: string[] = [];
  if (req.server !== false) eku.push(x509.ExtendedKeyUsage.serverAuth);
  if (req.client) eku.push(x509.ExtendedKeyUsage.clientAuth);
  const issuerCert = new x509.X509Certificate(issuer.certPem);
  const c = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject: `CN=${req.commonName}`, issuer: issuerCert.subject, ...req.validity,
    publicKey: keys.publicKey, signingKey: issuer.keys.privateKey, signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, req.uris?.length ? true : false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(issuerCert),
    ],
  });
  const certPem = c.toString("pem");
  return { certPem, keyPem: req.publicKey ? "" : await exportKey(keys.privateKey!), cert: new X509Certificate(certPem), keys };
}
