// The rule index never changes a decision: on random policies and random requests, evaluation through the index and
// evaluation of every rule agree on everything (allow, policy, rule, reason, every policy considered, the matches).
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_MESH } from "../api/mesh.js";
import type { AuthorizationPolicy, AuthzRule } from "../api/types.js";
import { compilePolicySet, evaluateAuthz, type AuthzContext } from "./authz.js";
import { RuleIndex } from "./authz-index.js";

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const some = <T>(xs: readonly T[], max = 3): T[] => Array.from({ length: 1 + Math.floor(next() * max) }, () => pick(xs));
  return { next, pick, some, chance: (p: number) => next() < p };
}

const PRINCIPALS = ["cluster.local/ns/a/sa/x", "cluster.local/ns/b/sa/y", "cluster.local/ns/c/sa/z"];
const PRINCIPAL_PATTERNS = [...PRINCIPALS, "cluster.local/ns/a/*", "*/sa/y", "*", "cluster.local/ns/*/sa/x"];
const PATHS = ["/", "/api", "/api/v1", "/api/v1/items", "/api/v2/items", "/admin", "/admin/users", "/static/app.js", "/index.html"];
const PATH_PATTERNS = [...PATHS, "/api/*", "/api/v1/*", "/admin*", "*.js", "*.html", "*", "/api/{*}/items", "/a*i", "*api*"];
const METHODS = ["GET", "POST", "DELETE"];

function randomRule(r: ReturnType<typeof rng>, index: number): AuthzRule {
  const rule: AuthzRule = { index };
  if (r.chance(0.6)) rule.from = r.some([0, 1]).map(() => ({
    ...(r.chance(0.7) ? { principals: r.some(r.chance(0.6) ? PRINCIPALS : PRINCIPAL_PATTERNS) } : {}),
    ...(r.chance(0.2) ? { notPrincipals: r.some(PRINCIPAL_PATTERNS, 1) } : {}),
    ...(r.chance(0.2) ? { namespaces: r.some(["a", "b", "c*"]) } : {}),
    ...(r.chance(0.1) ? { requestPrincipals: ["issuer/*"] } : {}),
  }));
  if (r.chance(0.6)) rule.to = r.some([0, 1]).map(() => ({
    ...(r.chance(0.7) ? { paths: r.some(r.chance(0.5) ? PATHS : PATH_PATTERNS) } : {}),
    ...(r.chance(0.2) ? { notPaths: r.some(PATH_PATTERNS, 1) } : {}),
    ...(r.chance(0.3) ? { methods: r.some(METHODS) } : {}),
    ...(r.chance(0.1) ? { ports: ["8080"] } : {}),
  }));
  if (r.chance(0.2)) rule.when = [{ key: "request.headers[x-t]", values: r.some(["1", "2", "*"]) }];
  return rule;
}

function randomPolicy(r: ReturnType<typeof rng>, i: number): AuthorizationPolicy {
  const action = r.pick(["ALLOW", "ALLOW", "DENY", "AUDIT"] as const);
  return {
    kind: "AuthorizationPolicy", meta: { name: `p${i}`, namespace: "default", labels: {}, annotations: {} },
    action, dryRun: r.chance(0.05), rules: r.chance(0.05) ? [] : Array.from({ length: 1 + Math.floor(r.next() * 3) }, (_, ri) => randomRule(r, ri)),
  } as unknown as AuthorizationPolicy;
}

function randomRequest(r: ReturnType<typeof rng>): AuthzContext {
  return {
    http: r.chance(0.85), principal: r.chance(0.85) ? r.pick(PRINCIPALS) : undefined, destinationPort: r.pick([8080, 9090]),
    method: r.pick(METHODS), path: r.pick([...PATHS, "/api/v1/items/7", "/other"]), host: "svc", headers: r.chance(0.5) ? { "x-t": r.pick(["1", "2", "3"]) } : {},
    requestPrincipal: r.chance(0.2) ? "issuer/alice" : undefined,
  };
}

test("authz index: compiled and plain evaluation agree on 400 random policy sets × 50 requests", () => {
  const r = rng(20261130);
  let decided = 0;
  let allowed = 0;
  for (let round = 0; round < 400; round++) {
    const set = compilePolicySet(Array.from({ length: 1 + Math.floor(r.next() * 25) }, (_, i) => randomPolicy(r, i)));
    for (let q = 0; q < 50; q++) {
      const ctx = randomRequest(r);
      for (const customAllowed of [false]) {
        const fast = evaluateAuthz(set, ctx, DEFAULT_MESH, customAllowed);
        const plain = evaluateAuthz(set, ctx, DEFAULT_MESH, customAllowed, true);
        const view = (x: typeof fast) => ({ allow: x.allow, reason: x.reason, policy: x.policy, rule: x.rule, considered: x.considered, count: x.consideredCount, matched: x.matched });
        assert.deepEqual(view(fast), view(plain), `round ${round}, request ${q}: ${JSON.stringify(ctx)}`);
        if (fast.policy) decided++;
        if (fast.allow) allowed++;
      }
    }
  }
  // The random sets must exercise both outcomes and real matches, or the agreement would say little.
  assert.ok(decided > 5000 && allowed > 2000 && allowed < 18000, `decided ${decided}, allowed ${allowed}`);
});

test("authz index: rules are filed under the principal or path they need; the rest are always tried", () => {
  const r = (rule: Omit<AuthzRule, "index">): AuthzRule => ({ index: 0, ...rule });
  const p = (rules: AuthzRule[]) => ({ action: "ALLOW", rules }) as unknown as AuthorizationPolicy;
  const index = new RuleIndex([
    p([r({ from: [{ principals: ["cluster.local/ns/a/sa/x"] }] })]),
    p([r({ to: [{ paths: ["/api/*"] }] }), r({ to: [{ paths: ["*.js", "/exact"] }] })]),
    p([r({ from: [{ principals: ["cluster.local/ns/a/*"] }] })]),
  ]);
  const names = (refs: readonly number[]) => refs.map((ref) => `${Math.floor(ref / 65536)}.${ref % 65536}`);
  assert.deepEqual(names(index.candidates("cluster.local/ns/a/sa/x", "/api/v1", true)), ["0.0", "1.0", "2.0"]);
  assert.deepEqual(names(index.candidates("cluster.local/ns/b/sa/y", "/app.js", true)), ["1.1", "2.0"]);
  assert.deepEqual(names(index.candidates(undefined, "/exact", true)), ["1.1", "2.0"]);
  assert.deepEqual(names(index.candidates(undefined, "/nothing", true)), ["2.0"]);
  assert.deepEqual(names(index.candidates(undefined, "/nothing", false)), ["1.0", "1.1", "2.0"], "on TCP a DENY rule ignores its paths: path-filed rules are tried");
  // A list handed out stays as it was whatever later lookups find (lookups share a scratch list of their own).
  const held = index.candidates("cluster.local/ns/a/sa/x", "/api/v1", true);
  const one = index.candidates(undefined, "/nothing", true);
  index.candidates(undefined, "/exact", true);
  index.candidates(undefined, "/nothing", false);
  assert.deepEqual([names(held), names(one)], [["0.0", "1.0", "2.0"], ["2.0"]]);
  const filed = new RuleIndex([p([r({ from: [{ principals: ["cluster.local/ns/a/sa/x"] }] })])]);
  assert.deepEqual(filed.candidates("cluster.local/ns/b/sa/y", "/", true), [], "nothing filed under this caller, and nothing always tried: no candidate");
});
