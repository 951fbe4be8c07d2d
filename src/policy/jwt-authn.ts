// End-user authentication as Envoy's jwt_authn filter does it for Istio's
// RequestAuthentication: every rule that applies to the workload is one
// provider; a request passes with no token, passes with a token one provider
// verifies, and is refused (401, or 403 for audiences) with a token none does.
// Pure: the signature check is a fact the proxy learns (facts.ts).
import type { JwtLocation, JwtRule } from "../api/types.js";
import type { Workload } from "../registry/model.js";
import { jwtQuestionKey, type Facts, type Question } from "./facts.js";
import type { JwtRuleOf } from "./index.js";

/** A verified end user: what `request.auth.*` and `requestPrincipals` see. */
export interface EndUser {
  /** "iss/sub", Istio's request principal. */
  principal: string;
  claims: Record<string, unknown>;
  audiences: string[];
  presenter?: string;
  /** Which RequestAuthentication rule verified it, and where the token was. */
  policy: string;
  rule: string;
  from: string;
}

export type Authn =
  | { kind: "pass"; user?: EndUser; set: Record<string, string>; remove: string[]; note: string }
  | { kind: "deny"; status: 401 | 403; body: string; reason: string; policy?: string; rule?: string }
  | { kind: "ask"; questions: Question[] };

/** Envoy's clock skew allowance for exp and nbf (jwt_authn's default, 60 s). */
const CLOCK_SKEW_S = 60;

/** Envoy's messages (jwt_verify_lib) for the ways a token fails. */
export const JwtErrors = {
  BAD_FORMAT: "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
  HEADER_BASE64: "Jwt header is an invalid Base64url encoded",
  HEADER_JSON: "Jwt header is an invalid JSON",
  PAYLOAD_BASE64: "Jwt payload is an invalid Base64url encoded",
  PAYLOAD_JSON: "Jwt payload is an invalid JSON",
  NO_ALG: "Jwt header [alg] field is required and must be a string",
  UNSUPPORTED_ALG: "Jwt header [alg] is not supported",
  UNKNOWN_ISSUER: "Jwt issuer is not configured",
  EXPIRED: "Jwt is expired",
  NOT_YET_VALID: "Jwt not yet valid",
  AUDIENCE: "Audiences in Jwt are not allowed",
  VERIFICATION: "Jwt verification fails",
  NO_KEY: "Jwks doesn't have key to match kid or alg from Jwt",
  FETCH: "Jwks remote fetch is failed",
  MISSING: "Jwt is missing",
  EXP_NOT_INTEGER: "Jwt payload [exp] field is not an integer",
  NBF_NOT_INTEGER: "Jwt payload [nbf] field is not an integer",
} as const;

const where = (l: JwtLocation) => ("header" in l ? `header ${l.header}` : "param" in l ? `query parameter ${l.param}` : `cookie ${l.cookie}`);

/** The token at one location of the request, if it holds one. */
export function extractToken(l: JwtLocation, headers: Record<string, string>, path: string): string | undefined {
  if ("header" in l) {
    const v = headers[l.header];
    if (v === undefined || !v.startsWith(l.prefix)) return undefined;
    return v.slice(l.prefix.length).trim() || undefined;
  }
  if ("param" in l) {
    const q = path.indexOf("?");
    if (q < 0) return undefined;
    return new URLSearchParams(path.slice(q + 1)).get(l.param) || undefined;
  }
  for (const part of (headers["cookie"] ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === l.cookie) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** The algorithms Envoy's jwt_authn verifies; anything else (including "none") is refused before any key is looked at. */
const ALGORITHMS = new Set(["ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"]);

type Decoded = { ok: true; header: Record<string, unknown>; payload: Record<string, unknown>; payloadPart: string } | { ok: false; error: string };

function decodePart(part: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error("base64");
  const text = Buffer.from(part, "base64url").toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    throw new Error("json");
  }
}

/** Header and payload, without the signature (which only the key set can check). */
export function decodeJwt(token: string): Decoded {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, error: JwtErrors.BAD_FORMAT };
  let header: unknown;
  let payload: unknown;
  try {
    header = decodePart(parts[0]!);
  } catch (e) {
    return { ok: false, error: (e as Error).message === "json" ? JwtErrors.HEADER_JSON : JwtErrors.HEADER_BASE64 };
  }
  if (typeof header !== "object" || header === null) return { ok: false, error: JwtErrors.HEADER_JSON };
  const alg = (header as { alg?: unknown }).alg;
  if (typeof alg !== "string") return { ok: false, error: JwtErrors.NO_ALG };
  if (!ALGORITHMS.has(alg)) return { ok: false, error: JwtErrors.UNSUPPORTED_ALG };
  try {
    payload = decodePart(parts[1]!);
  } catch (e) {
    return { ok: false, error: (e as Error).message === "json" ? JwtErrors.PAYLOAD_JSON : JwtErrors.PAYLOAD_BASE64 };
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return { ok: false, error: JwtErrors.PAYLOAD_JSON };
  return { ok: true, header: header as Record<string, unknown>, payload: payload as Record<string, unknown>, payloadPart: parts[1]! };
}

/** A claim by Istio's dotted path ("nested.key"), as outputClaimToHeaders names one. */
export function claimAt(claims: Record<string, unknown>, path: string[]): unknown {
  let v: unknown = claims;
  for (const k of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Envoy compares audiences without a scheme or a trailing slash. */
const normalAudience = (a: string) => a.replace(/^https?:\/\//, "").replace(/\/$/, "");

function audiencesOf(payload: Record<string, unknown>): string[] {
  const aud = payload["aud"];
  return typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === "string") : [];
}

interface Failure {
  status: 401 | 403;
  error: string;
  from: string;
  policy?: string;
  rule?: string;
}

/**
 * Authenticates one request at `w` with the rules that apply to it. Tokens whose signature the facts do not
 * know yet become questions.
 */
export function authenticate(rules: readonly JwtRuleOf[], headers: Record<string, string>, path: string, facts: Facts | undefined, now: Date, w: Workload): Authn {
  // Headers a rule writes from a verified token are the proxy's to write: a client's own copies are dropped.
  const remove = new Set<string>();
  for (const { rule } of rules) {
    if (rule.outputPayloadToHeader) remove.add(rule.outputPayloadToHeader);
    for (const o of rule.outputClaimToHeaders) remove.add(o.header);
  }
  const set: Record<string, string> = {};
  // Each location once, with the rules that read it (Envoy's extractor).
  const locations = new Map<string, { location: JwtLocation; rules: JwtRuleOf[] }>();
  for (const r of rules) {
    for (const l of r.rule.locations) {
      const k = JSON.stringify(l);
      const entry = locations.get(k) ?? { location: l, rules: [] };
      entry.rules.push(r);
      locations.set(k, entry);
    }
  }
  const questions: Question[] = [];
  const failures: Failure[] = [];
  const users: EndUser[] = [];
  const seen = new Set<string>();
  for (const { location, rules: readers } of locations.values()) {
    const token = extractToken(location, headers, path);
    if (!token) continue;
    const once = `${token}|${readers.map((r) => r.at).join()}`;
    if (seen.has(once)) continue;
    seen.add(once);
    const from = where(location);
    const decoded = decodeJwt(token);
    if (!decoded.ok) {
      failures.push({ status: 401, error: decoded.error, from });
      continue;
    }
    const iss = decoded.payload["iss"];
    const match = readers.find((r) => r.rule.issuer === iss) ?? readers.find((r) => r.rule.issuer === "");
    if (!match) {
      failures.push({ status: 401, error: JwtErrors.UNKNOWN_ISSUER, from: `${from} (issuer ${JSON.stringify(iss ?? null)})` });
      continue;
    }
    const { rule } = match;
    const fail = (status: 401 | 403, error: string) => failures.push({ status, error, from, policy: match.policy, rule: match.at });
    const nowS = now.getTime() / 1000;
    const exp = decoded.payload["exp"];
    const nbf = decoded.payload["nbf"];
    if (exp !== undefined && !Number.isInteger(exp)) { fail(401, JwtErrors.EXP_NOT_INTEGER); continue; }
    if (nbf !== undefined && !Number.isInteger(nbf)) { fail(401, JwtErrors.NBF_NOT_INTEGER); continue; }
    if (typeof exp === "number" && nowS > exp + CLOCK_SKEW_S) { fail(401, JwtErrors.EXPIRED); continue; }
    if (typeof nbf === "number" && nowS < nbf - CLOCK_SKEW_S) { fail(401, JwtErrors.NOT_YET_VALID); continue; }
    const audiences = audiencesOf(decoded.payload);
    if (rule.audiences.length && !audiences.some((a) => rule.audiences.some((b) => normalAudience(a) === normalAudience(b)))) { fail(403, JwtErrors.AUDIENCE); continue; }
    const key = jwtQuestionKey(rule, token);
    const check = facts?.jwt.get(key);
    if (!check) {
      questions.push({ kind: "jwt", key, rule, token, workload: w });
      continue;
    }
    if (!check.ok) { fail(401, check.error); continue; }
    const claims = decoded.payload;
    users.push({
      principal: `${String(iss)}/${String(claims["sub"] ?? "")}`, claims: splitClaims(claims, rule.spaceDelimitedClaims), audiences,
      presenter: typeof claims["azp"] === "string" ? claims["azp"] : undefined, policy: match.policy, rule: match.at, from,
    });
    if (!rule.forwardOriginalToken && "header" in location) remove.add(location.header);
    if (rule.outputPayloadToHeader) set[rule.outputPayloadToHeader] = decoded.payloadPart;
    for (const o of rule.outputClaimToHeaders) {
      const v = claimAt(claims, o.claim.split("."));
      // A value a header cannot carry (control characters, non-Latin-1 text) is not written.
      if ((typeof v === "string" && /^[\t\x20-\x7e\x80-\xff]*$/.test(v)) || typeof v === "number" || typeof v === "boolean") set[o.header] = String(v);
    }
  }
  if (questions.length) return { kind: "ask", questions };
  for (const h of Object.keys(set)) remove.delete(h);
  const user = users[0];
  if (user) return { kind: "pass", user, set, remove: [...remove], note: `the token in the ${user.from} verifies with ${user.policy} ${user.rule}: request principal ${user.principal}` };
  const f = failures[0] ?? missing(rules, headers, path);
  if (f) return { kind: "deny", status: f.status, body: f.error, policy: f.policy, rule: f.rule, reason: `the token in the ${f.from} ${f.policy ? `fails ${f.policy} ${f.rule}` : "is refused"}: ${f.error}` };
  return { kind: "pass", set, remove: [...remove], note: rules.length ? "no token in the request: it goes on without a request principal" : "" };
}

/** `presence: REQUIRED`: a rule that finds no token at any of its locations refuses the request. */
function missing(rules: readonly JwtRuleOf[], headers: Record<string, string>, path: string): Failure | undefined {
  const r = rules.find((x) => x.rule.required && !x.rule.locations.some((l) => extractToken(l, headers, path)));
  return r && { status: 401, error: JwtErrors.MISSING, from: r.rule.locations.map(where).join(" or "), policy: r.policy, rule: r.at };
}

/** Claims as policies match them: a space-delimited claim's string ("read write") is its words. */
export function splitClaims(claims: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  let out = claims;
  for (const name of names) {
    const path = name.split(".");
    const v = claimAt(claims, path);
    if (typeof v !== "string") continue;
    if (out === claims) out = structuredClone(claims);
    let at = out;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
    at[path.at(-1)!] = v.split(" ").filter(Boolean);
  }
  return out;
}

/** Where the keys of a rule come from, for the trail. */
export const keysOf = (rule: JwtRule) => (rule.jwksUri ? `the key set at ${rule.jwksUri}` : "the inline key set");
