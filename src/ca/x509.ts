// Certificate issuance on @peculiar/x509 with Node's WebCrypto: ECDSA P-256
// keys, real X.509 certificates that Node's TLS and X509Certificate accept.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA_ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
type SigningAlg = typeof ALG | typeof RSA_ALG;

export interface KeyedCert {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  /** For signing further certificates with this one. */
  keys: CryptoKeyPair;
  /** The algorithm this certificate's key signs with. */
  alg: SigningAlg;
}

/**
 * Loads a certificate and its PEM private key (EC P-256 or RSA, as a
 * plug-in CA may have) into a signer.
 */
export async function loadKeyedCert(certPem: string, keyPem: string): Promise<KeyedCert> {
  const key = createPrivateKey(keyPem);
  const alg: SigningAlg = key.asymmetricKeyType === "rsa" ? RSA_ALG : ALG;
  if (key.asymmetricKeyType !== "rsa" && key.asymmetricKeyType !== "ec") throw new Error(`unsupported key type ${key.asymmetricKeyType}; use EC P-256 or RSA`);
  const der = key.export({ format: "der", type: "pkcs8" });
  const importAlg = alg === RSA_ALG ? { name: alg.name, hash: alg.hash } : { name: "ECDSA", namedCurve: "P-256" };
  const privateKey = (await webcrypto.subtle.importKey("pkcs8", der, importAlg, true, ["sign"])) as unknown as CryptoKey;
  const cert = new X509Certificate(certPem);
  const publicKey = (await webcrypto.subtle.importKey("spki", cert.publicKey.export({ format: "der", type: "spki" }), importAlg, true, ["verify"])) as unknown as CryptoKey;
  return { certPem, keyPem, cert, keys: { privateKey, publicKey }, alg };
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
  return { certPem, keyPem: await exportKey(keys.privateKey), cert: new X509Certificate(certPem), keys, alg: ALG };
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
    publicKey: keys.publicKey, signingKey: issuer.keys.privateKey, signingAlgorithm: issuer.alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, req.uris?.length ? true : false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(issuerCert),
    ],
  });
  const certPem = c.toString("pem");
  return { certPem, keyPem: req.publicKey ? "" : await exportKey(keys.privateKey!), cert: new X509Certificate(certPem), keys, alg: ALG };
}

/** A PKCS#10 request: the proxy keeps its key and sends only this. */
export async function createCsr(uri: string): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await generateKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: "O=zeromesh", keys, signingAlgorithm: ALG,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: uri }], true)],
  });
  return { csrPem: csr.toString("pem"), keyPem: await exportKey(keys.privateKey) };
}

export interface ParsedCsr {
  uris: string[];
  dnsNames: string[];
  publicKey: CryptoKey;
}

/** Parses a CSR and checks its self-signature (proof the requester holds the key). */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  if (!(await csr.verify())) throw new Error("the CSR's signature does not verify");
  const raw = csr.getExtension("2.5.29.17"); // subjectAltName
  const names = raw ? new x509.SubjectAlternativeNameExtension(raw.rawData).names.toJSON() : [];
  return {
    uris: names.filter((n) => n.type === "url").map((n) => n.value),
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    publicKey: (await csr.publicKey.export()) as unknown as CryptoKey,
  };
}
