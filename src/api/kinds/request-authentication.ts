import type { Reader } from "../reader.js";
import type { JwtLocation, JwtRule, Origin, RequestAuthentication } from "../types.js";
import { HEADER_NAME, readDuration } from "./common.js";
import { readMeta, readPolicyTarget } from "./meta.js";

const RULE_FIELDS = [
  "issuer", "audiences", "jwksUri", "jwks", "fromHeaders", "fromParams", "outputPayloadToHeader", "forwardOriginalToken",
  "outputClaimToHeaders", "fromCookies", "timeout", "spaceDelimitedClaims", "presence",
];

/** The CRD's pattern for `outputClaimToHeaders[].header`. */
const CLAIM_HEADER = /^[-_A-Za-z0-9]+$/;

export function readRequestAuthentication(doc: Reader, origin: Origin): RequestAuthentication {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["selector", "targetRef", "targetRefs", "jwtRules"]);
  const { selector, targets } = readPolicyTarget(spec);
  const targeted = targets.length > 0 ? { targeted: true } : {};
  const rules = spec.field("jwtRules").list();
  if (rules.length > 4096) spec.field("jwtRules").error(`at most 4096 rules, got ${rules.length}`);
  return { kind: "RequestAuthentication", meta, origin, selector, ...targeted, jwtRules: rules.map(readJwtRule) };
}

function readJwtRule(j: Reader): JwtRule {
  j.object(RULE_FIELDS);
  // Istio's webhook (validateJwtRule): an issuer is required, values are non-empty, jwksUri is a URL with a host.
  const issuer = j.field("issuer").string() ?? "";
  const audiences = j.field("audiences").strings();
  audiences.forEach((a, i) => a === "" && j.field("audiences").error("must not be empty", `${j.field("audiences").path}[${i}]`));
  const jwksUri = j.field("jwksUri").string();
  if (jwksUri !== undefined) {
    const url = URL.canParse(jwksUri) ? new URL(jwksUri) : undefined;
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) j.field("jwksUri").error(`"${jwksUri}" must be an http(s) URL with a host`);
    else if (jwksUri.length > 2048) j.field("jwksUri").error("must be at most 2048 characters");
  }
  if (jwksUri !== undefined && j.field("jwks").present) j.error("only one of jwks or jwksUri can be set");
  // Without an issuer, a rule takes tokens of any issuer its keys verify (Envoy's provider without `issuer`).
  if (!issuer && !jwksUri) j.error("issuer or jwksUri must be non-empty string");
  const jwks = j.field("jwks").string();
  if (jwks !== undefined) {
    const err = checkJwks(jwks);
    if (err) j.field("jwks").error(err);
  }
  const locations: JwtLocation[] = [];
  j.field("fromHeaders").list().forEach((h) => {
    h.object(["name", "prefix"]);
    const name = h.field("name").string({ required: true });
    if (name === "") h.field("name").error("must not be empty");
    if (name) locations.push({ header: name.toLowerCase(), prefix: h.field("prefix").string() ?? "" });
  });
  for (const [field, key] of [["fromParams", "param"], ["fromCookies", "cookie"]] as const) {
    const r = j.field(field);
    r.strings().forEach((v, i) => (v === "" ? r.error("must not be empty", `${r.path}[${i}]`) : locations.push(key === "param" ? { param: v } : { cookie: v })));
  }
  const payloadHeader = j.field("outputPayloadToHeader").string();
  if (payloadHeader !== undefined && !HEADER_NAME.test(payloadHeader)) j.field("outputPayloadToHeader").error(`"${payloadHeader}" is not a valid header name`);
  const outputClaimToHeaders = j.field("outputClaimToHeaders").list().map((o) => {
    o.object(["header", "claim"]);
    const header = o.field("header").string({ required: true }) ?? "";
    const claim = o.field("claim").string({ required: true }) ?? "";
    if (o.field("header").present && !CLAIM_HEADER.test(header)) o.field("header").error(`"${header}" is not a valid header name (letters, digits, "-" and "_")`);
    if (o.field("claim").present && claim === "") o.field("claim").error("must not be empty");
    return { header: header.toLowerCase(), claim };
  });
  const spaceDelimitedClaims = j.field("spaceDelimitedClaims").strings();
  spaceDelimitedClaims.forEach((c, i) => c === "" && j.field("spaceDelimitedClaims").error("must not be empty", `${j.field("spaceDelimitedClaims").path}[${i}]`));
  if (spaceDelimitedClaims.length > 64) j.field("spaceDelimitedClaims").error(`at most 64 claims, got ${spaceDelimitedClaims.length}`);
  const timeoutMs = readDuration(j.field("timeout"));
  if (timeoutMs !== undefined && timeoutMs < 1) j.field("timeout").error("must be a valid duration greater than 1ms");
  return {
    issuer, audiences, jwks, jwksUri,
    // Istio always splits "scope" and "permission" on spaces for matching; these claims too.
    spaceDelimitedClaims: [...new Set(["scope", "permission", ...spaceDelimitedClaims])],
    required: j.field("presence").enumOf(["OPTIONAL", "REQUIRED"] as const, "OPTIONAL") === "REQUIRED",
    // Without a location, Envoy (as Istio configures it) reads `Authorization: Bearer <token>` and `?access_token=`.
    locations: locations.length ? locations : [{ header: "authorization", prefix: "Bearer " }, { param: "access_token" }],
    forwardOriginalToken: j.field("forwardOriginalToken").bool(false),
    outputPayloadToHeader: payloadHeader?.toLowerCase(),
    outputClaimToHeaders,
    timeoutMs,
  };
}

/** A JWKS document: JSON with a non-empty `keys` list of objects with `kty`. */
export function checkJwks(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return `must be a JSON Web Key Set: ${(e as Error).message}`;
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.length) return "must be a JSON Web Key Set with a non-empty \"keys\" list";
  if (keys.some((k) => typeof k !== "object" || k === null || typeof (k as { kty?: unknown }).kty !== "string")) return "every key of the JSON Web Key Set needs a \"kty\"";
  return undefined;
}
