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

/** "spiffe://td/ns/x/sa/y" → "td/ns/x/sa/y", AuthorizationPolicy's principal form. */
export const principalOf = (spiffe: string) => spiffe.replace(/^spiffe:\/\//, "");
