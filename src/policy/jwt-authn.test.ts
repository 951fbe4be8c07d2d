// RequestAuthentication's semantics, as Envoy's jwt_authn filter applies them
// for Istio, table by table: where tokens are read, how each fails (Envoy's
// words), what a valid one yields, and which headers change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { JwtRule } from "../api/types.js";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import { Registry } from "../registry/registry.js";
import { noFacts, type Facts } from "./facts.js";
import type { JwtRuleOf } from "./index.js";
import { authenticate, decodeJwt, extractToken, JwtErrors } from "./jwt-authn.js";
import { keySet, verifySignature } from "./jwt-verify.js";

const w = Registry.of(snapshotOf(meshYaml([{ ns: "a", name: "web", port: 8080 }]))).workload("a/web")!;
const NOW = new Date("2030-01-01T00:00:00Z");
const nowS = NOW.getTime() / 1000;

const rule = (r: Partial<JwtRule> = {}): JwtRuleOf => ({
  rule: { issuer: "iss", audiences: [], jwks: "{}", locations: [{ header: "authorization", prefix: "Bearer " }, { param: "access_token" }], forwardOriginalToken: false, outputClaimToHeaders: [], spaceDelimitedClaims: ["scope", "permission"], required: false, ...r },
  policy: "RequestAuthentication/a/ra", at: "jwtRules[0]",
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
/** An unsigned token of these claims (the signature is a fact the tests set). */
const tok = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: "ES256", kid: "k" }) => `${b64(header)}.${b64(claims)}.c2ln`;

/** Facts where every token's signature is good (or `error`). */
function factsFor(rules: JwtRuleOf[], headers: Record<string, string>, path: string, error?: string): Facts {
  const facts = noFacts();
  const first = authenticate(rules, headers, path, facts, NOW, w);
  if (first.kind === "ask") for (const q of first.questions) if (q.kind === "jwt") facts.jwt.set(q.key, error ? { ok: false, error } : { ok: true });
  return facts;
}
const run = (rules: JwtRuleOf[], headers: Record<string, string>, path = "/", sigError?: string) => authenticate(rules, headers, path, factsFor(rules, headers, path, sigError), NOW, w);

const good = { iss: "iss", sub: "alice", exp: nowS + 3600 };
const cases: { name: string; rules?: JwtRuleOf[]; headers?: Record<string, string>; path?: string; sig?: string; want: string | number }[] = [
  { name: "no rule: nothing to do", rules: [], headers: { authorization: `Bearer ${tok(good)}` }, want: "pass:" },
  { name: "no token passes without a principal", want: "pass:" },
  { name: "a valid bearer token", headers: { authorization: `Bearer ${tok(good)}` }, want: "pass:iss/alice" },
  { name: "another scheme is not a token", headers: { authorization: "Basic dXNlcjpwYXNz" }, want: "pass:" },
  { name: "the access_token parameter", path: `/x?access_token=${tok(good)}`, want: "pass:iss/alice" },
  { name: "not three parts", headers: { authorization: "Bearer abc.def" }, want: JwtErrors.BAD_FORMAT },
  { name: "header not base64url", headers: { authorization: "Bearer a*b.c.d" }, want: JwtErrors.HEADER_BASE64 },
  { name: "header not JSON", headers: { authorization: `Bearer ${Buffer.from("nope").toString("base64url")}.${b64(good)}.x` }, want: JwtErrors.HEADER_JSON },
  { name: "header without alg", headers: { authorization: `Bearer ${tok(good, { kid: "k" })}` }, want: JwtErrors.NO_ALG },
  { name: "alg none is refused", headers: { authorization: `Bearer ${tok(good, { alg: "none" })}` }, want: JwtErrors.UNSUPPORTED_ALG },
  { name: "payload not JSON", headers: { authorization: `Bearer ${b64({ alg: "ES256" })}.${Buffer.from("[").toString("base64url")}.x` }, want: JwtErrors.PAYLOAD_JSON },
  { name: "an issuer no rule names", headers: { authorization: `Bearer ${tok({ ...good, iss: "other" })}` }, want: JwtErrors.UNKNOWN_ISSUER },
  { name: "expired, beyond the 60 s skew", headers: { authorization: `Bearer ${tok({ ...good, exp: nowS - 61 })}` }, want: JwtErrors.EXPIRED },
  { name: "expired within the skew still passes", headers: { authorization: `Bearer ${tok({ ...good, exp: nowS - 30 })}` }, want: "pass:iss/alice" },
  { name: "not valid before a future nbf", headers: { authorization: `Bearer ${tok({ ...good, nbf: nowS + 120 })}` }, want: JwtErrors.NOT_YET_VALID },
  { name: "audience not allowed is 403", rules: [rule({ audiences: ["api"] })], headers: { authorization: `Bearer ${tok({ ...good, aud: ["web"] })}` }, want: 403 },
  { name: "audience in a list, compared without scheme or trailing slash", rules: [rule({ audiences: ["https://api.example.com/"] })], headers: { authorization: `Bearer ${tok({ ...good, aud: ["x", "api.example.com"] })}` }, want: "pass:iss/alice" },
  { name: "expiry is checked before the audience (Envoy's order)", rules: [rule({ audiences: ["api"] })], headers: { authorization: `Bearer ${tok({ ...good, exp: nowS - 3600 })}` }, want: JwtErrors.EXPIRED },
  { name: "a bad signature", headers: { authorization: `Bearer ${tok(good)}` }, sig: JwtErrors.VERIFICATION, want: JwtErrors.VERIFICATION },
  { name: "a header location with its prefix", rules: [rule({ locations: [{ header: "x-token", prefix: "Token " }] })], headers: { "x-token": `Token ${tok(good)}` }, want: "pass:iss/alice" },
  { name: "a cookie location", rules: [rule({ locations: [{ cookie: "session" }] })], headers: { cookie: `a=1; session=${tok(good)}; b=2` }, want: "pass:iss/alice" },
  { name: "two rules: the token's issuer picks one", rules: [rule({ issuer: "first" }), rule()], headers: { authorization: `Bearer ${tok(good)}` }, want: "pass:iss/alice" },
  { name: "presence REQUIRED refuses a request without a token", rules: [rule({ required: true })], want: JwtErrors.MISSING },
  { name: "presence REQUIRED passes a valid token", rules: [rule({ required: true })], headers: { authorization: `Bearer ${tok(good)}` }, want: "pass:iss/alice" },
  { name: "one good token is enough when another fails (requires_any)", rules: [rule(), rule({ issuer: "x", locations: [{ header: "x-other", prefix: "" }] })], headers: { authorization: `Bearer ${tok(good)}`, "x-other": "garbage" }, want: "pass:iss/alice" },
];

for (const c of cases) {
  test(`jwt-authn: ${c.name}`, () => {
    const r = run(c.rules ?? [rule()], c.headers ?? {}, c.path, c.sig);
    const got = r.kind === "pass" ? `pass:${r.user?.principal ?? ""}` : r.kind === "deny" ? (r.status === 403 ? 403 : r.body) : "ask";
    assert.equal(got, c.want);
    if (r.kind === "deny" && typeof c.want === "string") assert.equal(r.status, 401);
  });
}

test("jwt-authn: a token whose signature is unknown yet becomes one question per token and rule", () => {
  const r = authenticate([rule()], { authorization: `Bearer ${tok(good)}` }, "/", noFacts(), NOW, w);
  assert.equal(r.kind, "ask");
  assert.equal(r.kind === "ask" && r.questions.length, 1);
});

test("jwt-authn: headers: the token removed unless forwarded; payload and claims written; a client's own copies dropped", () => {
  const claims = { ...good, org: { tier: "gold" }, admin: true, n: 3, list: ["a"] };
  const r = run([rule({ outputPayloadToHeader: "x-payload", outputClaimToHeaders: [{ header: "x-tier", claim: "org.tier" }, { header: "x-admin", claim: "admin" }, { header: "x-n", claim: "n" }, { header: "x-list", claim: "list" }] })],
    { authorization: `Bearer ${tok(claims)}`, "x-list": "forged" });
  assert.equal(r.kind, "pass");
  if (r.kind !== "pass") return;
  assert.deepEqual(r.set, { "x-payload": b64(claims), "x-tier": "gold", "x-admin": "true", "x-n": "3" });
  assert.deepEqual(r.remove.sort(), ["authorization", "x-list"], "the token's header, and a claim header the token cannot fill");
  const kept = run([rule({ forwardOriginalToken: true })], { authorization: `Bearer ${tok(good)}` });
  assert.deepEqual(kept.kind === "pass" && kept.remove, []);
  const none = run([rule({ outputPayloadToHeader: "x-payload" })], { "x-payload": "forged" });
  assert.deepEqual(none.kind === "pass" && [none.user, none.remove], [undefined, ["x-payload"]], "no token: a forged payload header is dropped");
});

test("jwt-authn: scope, permission and spaceDelimitedClaims are matched word by word", () => {
  const r = run([rule({ spaceDelimitedClaims: ["scope", "permission", "a.roles"] })], { authorization: `Bearer ${tok({ ...good, scope: "read write", a: { roles: "x y" }, other: "p q" })}` });
  assert.deepEqual(r.kind === "pass" && [r.user?.claims["scope"], (r.user?.claims["a"] as { roles: unknown }).roles, r.user?.claims["other"]], [["read", "write"], ["x", "y"], "p q"]);
});

test("jwt-authn: extraction and decoding details", () => {
  assert.equal(extractToken({ header: "authorization", prefix: "Bearer " }, { authorization: "Bearer  abc " }, "/"), "abc");
  assert.equal(extractToken({ param: "t" }, {}, "/x?a=1&t=xyz"), "xyz");
  assert.equal(extractToken({ cookie: "c" }, { cookie: "cc=1" }, "/"), undefined);
  const d = decodeJwt(tok(good));
  assert.deepEqual(d.ok && d.payload, good);
});

test("jwt-verify: signatures by jose, in Envoy's words", async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const other = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
  const keys = await keySet(JSON.stringify({ keys: [jwk] }));
  const signed = (key: CryptoKey, kid: string) => new SignJWT(good).setProtectedHeader({ alg: "ES256", kid }).sign(key);
  assert.deepEqual(await verifySignature(await signed(privateKey, "k1"), keys), { ok: true });
  assert.deepEqual(await verifySignature(await signed(other.privateKey, "k1"), keys), { ok: false, error: JwtErrors.VERIFICATION });
  assert.deepEqual(await verifySignature(await signed(privateKey, "k2"), keys), { ok: false, error: JwtErrors.NO_KEY });
  // alg "none" is never accepted (authenticate refuses it before asking; jose refuses it too).
  assert.deepEqual(await verifySignature(`${b64({ alg: "none", kid: "k1" })}.${b64(good)}.`, keys), { ok: false, error: JwtErrors.VERIFICATION });
});
