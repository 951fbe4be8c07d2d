import { X509Certificate } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";

/** The proxy's workload certificate and the mesh roots, swapped whole on rotation. */
export interface Credentials {
  certPem: string;
  keyPem: string;
  chainPem: string;
  rootPem: string;
  notAfter: Date;
}

const contexts = new WeakMap<Credentials, SecureContext>();

/**
 * One TLS context per certificate generation, built once and used by both
 * sides of mesh mTLS (building one per connection parses the key each time).
 */
export function meshContext(c: Credentials): SecureContext {
  let ctx = contexts.get(c);
  if (!ctx) contexts.set(c, (ctx = createSecureContext({ cert: c.certPem + c.chainPem, key: c.keyPem, ca: c.rootPem })));
  return ctx;
}

/** The SPIFFE URI SAN of a peer certificate, if it has exactly one. */
export function spiffeOf(raw: Buffer | undefined): string | undefined {
  if (!raw?.length) return undefined;
  const san = new X509Certificate(raw).subjectAltName ?? "";
  const uris = san.split(", ").filter((s) => s.startsWith("URI:spiffe://")).map((s) => s.slice(4));
  return uris.length === 1 ? uris[0] : undefined;
}

/** The control plane's own identity's tail (trust domain first): it serves the proxies' endpoint with it. */
export const CONTROL_SPIFFE_SUFFIX = "/ns/istio-system/sa/zeromesh-control";

/** A TLS client's server check toward the control plane: its certificate (chained to the mesh root) must carry the control plane's identity. */
export function checkControlIdentity(_host: string, cert: { raw: Buffer }): Error | undefined {
  return spiffeOf(cert.raw)?.endsWith(CONTROL_SPIFFE_SUFFIX) ? undefined : new Error("the control plane did not present its mesh identity");
}

/** "spiffe://td/ns/x/sa/y" → "td/ns/x/sa/y", AuthorizationPolicy's principal form. */
export const principalOf = (spiffe: string) => spiffe.replace(/^spiffe:\/\//, "");
