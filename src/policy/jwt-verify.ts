// A token's signature against a key set, by `jose` (no signature code of our
// own). The engine's one computation that is asynchronous, so it runs outside
// it: the live proxy and the static runner call this and hand the result back
// as a fact (facts.ts). Time, issuer and audience checks stay in jwt-authn.ts.
import type { JwtCheck } from "./facts.js";
import { JwtErrors } from "./jwt-authn.js";

type Jose = typeof import("jose");
let jose: Promise<Jose> | undefined;
/** Loaded on the first token: a proxy that never sees one does not carry it. */
const loadJose = () => (jose ??= import("jose"));

export type KeySet = Awaited<ReturnType<typeof keySet>>;

/** A JWKS document (JSON text) made ready for verification; throws when it is not one. */
export async function keySet(jwksText: string) {
  const { createLocalJWKSet } = await loadJose();
  return createLocalJWKSet(JSON.parse(jwksText) as Parameters<typeof createLocalJWKSet>[0]);
}

/** Verifies a compact JWS with the key its header names (kid and alg), in Envoy's words when it fails. */
export async function verifySignature(token: string, keys: KeySet): Promise<JwtCheck> {
  const { compactVerify, errors } = await loadJose();
  try {
    await compactVerify(token, keys);
    return { ok: true };
  } catch (e) {
    // A token without a `kid` that several keys fit: Envoy tries each of them.
    if (e instanceof errors.JWKSMultipleMatchingKeys) {
      for await (const key of e) {
        try {
          await compactVerify(token, key);
          return { ok: true };
        } catch {
          // the next key
        }
      }
      return { ok: false, error: JwtErrors.VERIFICATION };
    }
    if (e instanceof errors.JWKSNoMatchingKey) return { ok: false, error: JwtErrors.NO_KEY };
    return { ok: false, error: JwtErrors.VERIFICATION };
  }
}
