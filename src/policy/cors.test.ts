import { test } from "node:test";
import assert from "node:assert/strict";
import type { CorsPolicy } from "../api/types.js";
import { corsVerdict } from "./cors.js";

const policy = (p: Partial<CorsPolicy> = {}): CorsPolicy => ({
  allowOrigins: [{ exact: "https://a.test" }], allowMethods: ["GET", "POST"], allowHeaders: ["x-token"], exposeHeaders: ["x-id"],
  maxAgeSeconds: 60, allowCredentials: false, unmatchedPreflights: "FORWARD", ...p,
});
const PRE = { origin: "https://a.test", "access-control-request-method": "POST" };

const cases: { name: string; p: CorsPolicy; method: string; headers: Record<string, string>; kind: string; headers_?: Record<string, string> }[] = [
  { name: "no Origin: not a CORS request", p: policy(), method: "GET", headers: {}, kind: "pass" },
  { name: "allowed preflight is answered with the policy", p: policy(), method: "OPTIONS", headers: PRE, kind: "answer", headers_: { "access-control-allow-origin": "https://a.test", "access-control-allow-methods": "GET,POST", "access-control-allow-headers": "x-token", "access-control-max-age": "60" } },
  { name: "OPTIONS without Access-Control-Request-Method is an actual request", p: policy(), method: "OPTIONS", headers: { origin: "https://a.test" }, kind: "decorate" },
  { name: "credentials are announced", p: policy({ allowCredentials: true, allowMethods: [], allowHeaders: [], maxAgeSeconds: undefined }), method: "OPTIONS", headers: PRE, kind: "answer", headers_: { "access-control-allow-origin": "https://a.test", "access-control-allow-credentials": "true" } },
  { name: "unmatched preflight is forwarded by default", p: policy(), method: "OPTIONS", headers: { ...PRE, origin: "https://b.test" }, kind: "pass" },
  { name: "unmatched preflight is answered bare with IGNORE", p: policy({ unmatchedPreflights: "IGNORE" }), method: "OPTIONS", headers: { ...PRE, origin: "https://b.test" }, kind: "answer", headers_: {} },
  { name: "unmatched actual request passes without headers", p: policy(), method: "GET", headers: { origin: "https://b.test" }, kind: "pass" },
];

for (const c of cases) {
  test(`cors: ${c.name}`, () => {
    const v = corsVerdict(c.p, c.method, c.headers);
    assert.equal(v.kind, c.kind);
    if (c.headers_) assert.deepEqual(v.kind === "answer" ? v.headers : undefined, c.headers_);
  });
}

test("cors: an allowed actual request gets origin and exposed headers on its answer", () => {
  const v = corsVerdict(policy({ allowCredentials: true }), "GET", { origin: "https://a.test" });
  assert.deepEqual(v.kind === "decorate" ? v.response.set : undefined, { "access-control-allow-origin": "https://a.test", "access-control-allow-credentials": "true", "access-control-expose-headers": "x-id" });
});
