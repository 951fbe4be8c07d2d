// What the authorization step records and answers: every policy it considered, named with its rule (or why none),
// shadowed when dry-run or AUDIT; a summary instead of a list when there are many; L4 marked; and the answer
// (403 with Istio's body, a reset for TCP).
import { test } from "node:test";
import assert from "node:assert/strict";
import { check, gatewayYaml, meshYaml, snapshotOf } from "../testing/helpers.js";
import type { Decision } from "./decision.js";
import { Registry } from "../registry/registry.js";

const APPS = meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web" }, { ns: "b", name: "db", port: 5432, portName: "tcp-db" }]);
const policy = (name: string, spec: string, dryRun = false) =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: b${dryRun ? `, annotations: {istio.io/dry-run: "true"}` : ""}}\nspec: ${spec}`;
const snap = (...docs: string[]) => snapshotOf([APPS, ...docs].join("\n---\n"));
const authzSteps = (d: Decision) => d.trail.filter((s) => s.stage === "authz").map((s) => ({ policy: s.policy, rule: s.rule, shadow: s.shadow, message: s.message }));

test("authorize: each policy considered is in the trail with its rule; dry-run and AUDIT are shadows; then the verdict", () => {
  const d = check(snap(
    policy("deny-admin", `{action: DENY, rules: [{to: [{operation: {paths: ["/other"]}}]}, {to: [{operation: {paths: ["/admin"]}}]}]}`),
    policy("dry", `{action: DENY, rules: [{}]}`, true),
    policy("audit", `{action: AUDIT, rules: [{}]}`),
  ), "a/client", "http://web.b/admin");
  assert.deepEqual(d.outcome, { kind: "response", status: 403, body: "RBAC: access denied", headers: { "content-type": "text/plain" } });
  assert.equal(d.code, "ZM_DENY_AUTHZ");
  assert.equal(d.policy, "AuthorizationPolicy/b/deny-admin");
  assert.equal(d.reason, "AuthorizationPolicy/b/deny-admin denied the request: DENY policy matched rule 1");
  const steps = authzSteps(d);
  const byPolicy = (p: string) => steps.find((s) => s.policy === p && s.message.includes(p));
  assert.deepEqual(byPolicy("AuthorizationPolicy/b/dry"), { policy: "AuthorizationPolicy/b/dry", rule: "rules[0]", shadow: true, message: "DENY (dry-run: recorded, not enforced) AuthorizationPolicy/b/dry: rule 0 matches" });
  assert.deepEqual(byPolicy("AuthorizationPolicy/b/deny-admin"), { policy: "AuthorizationPolicy/b/deny-admin", rule: "rules[1]", shadow: false, message: "DENY AuthorizationPolicy/b/deny-admin: rule 1 matches" });
  const audit = byPolicy("AuthorizationPolicy/b/audit");
  assert.equal(audit?.shadow, true, "AUDIT decides nothing");
  assert.equal(audit?.rule, "rules[0]");
  assert.deepEqual(steps.at(-1), { policy: "AuthorizationPolicy/b/deny-admin", rule: "rules[1]", shadow: undefined, message: "denied: DENY policy matched rule 1" });
});

test("authorize: a policy that matches no rule says so; an allow is recorded too", () => {
  const d = check(snap(policy("allow-get", `{action: ALLOW, rules: [{to: [{operation: {methods: [GET]}}]}]}`), policy("deny-post", `{action: DENY, rules: [{to: [{operation: {methods: [POST]}}]}]}`)), "a/client", "http://web.b/");
  assert.equal(d.allow, true);
  const steps = authzSteps(d);
  const deny = steps.find((s) => s.policy === "AuthorizationPolicy/b/deny-post");
  assert.equal(deny?.rule, undefined);
  assert.equal(deny?.shadow, false);
  assert.match(deny?.message ?? "", /^DENY AuthorizationPolicy\/b\/deny-post: /);
  assert.doesNotMatch(deny?.message ?? "", /rule \d matches/);
  assert.match(steps.at(-1)!.message, /^allowed: /);
});

test("authorize: TCP is marked L4 and denied with a reset, not a 403", () => {
  const d = check(snap(policy("deny-all-tcp", `{action: DENY, rules: [{to: [{operation: {ports: ["5432"]}}]}]}`)), "a/client", "tcp://db.b:5432");
  assert.deepEqual(d.outcome, { kind: "error", error: "reset" });
  assert.ok(authzSteps(d).some((s) => s.message === "DENY AuthorizationPolicy/b/deny-all-tcp: rule 0 matches (L4: TCP traffic)"), JSON.stringify(authzSteps(d)));
});

test("authorize: up to 20 policies are each listed; past 20 only those with a matching rule, and one summary with all of them", () => {
  const misses = (n: number) => Array.from({ length: n }, (_, i) => policy(`miss-${i}`, `{action: DENY, rules: [{to: [{operation: {paths: ["/never-${i}"]}}]}]}`));
  const hit = policy("zz-deny-admin", `{action: DENY, rules: [{to: [{operation: {paths: ["/admin"]}}]}]}`);
  const twenty = authzSteps(check(snap(hit, ...misses(19)), "a/client", "http://web.b/admin"));
  assert.equal(twenty.filter((s) => /^DENY AuthorizationPolicy/.test(s.message)).length, 20);
  assert.ok(!twenty.some((s) => /policies considered/.test(s.message)));

  const d = check(snap(hit, ...misses(20)), "a/client", "http://web.b/admin");
  const many = authzSteps(d);
  assert.deepEqual(many.filter((s) => /^DENY AuthorizationPolicy/.test(s.message)).map((s) => s.policy), ["AuthorizationPolicy/b/zz-deny-admin"]);
  const summary = d.trail.find((s) => /policies considered/.test(s.message));
  assert.equal(summary?.message, "21 policies considered; 20 matched no rule (each is listed in this step's details)");
  assert.equal((summary?.details as unknown[]).length, 21);
  assert.equal(d.outcome.kind === "response" && d.outcome.status, 403);
});

test("authorize: with no policy a sidecar records the allow; the request's remote IP is its peer's address when no gateway said otherwise", () => {
  const none = check(snap(), "a/client", "http://web.b/");
  assert.match(authzSteps(none).at(-1)?.message ?? "", /^allowed: /);
  const s = snap();
  const client = Registry.of(s).instancesOf("a/client")[0]!;
  const byRemote = (cidr: string) => check(snapshotOf([APPS, policy("remote", `{action: DENY, rules: [{from: [{source: {remoteIpBlocks: ["${cidr}"]}}]}]}`)].join("\n---\n")), "a/client", "http://web.b/").allow;
  assert.equal(byRemote(`${client.address}/32`), false, "remoteIpBlocks sees the client's own address");
  assert.equal(byRemote("192.0.2.0/24"), true);
});

test("authorize: connection.sni is the name of TLS the application sent, and nothing for plain HTTP", () => {
  const sni = policy("by-sni", `{action: DENY, rules: [{when: [{key: connection.sni, values: ["web.b"]}]}]}`);
  assert.equal(check(snap(sni), "a/client", "http://web.b/").allow, true, "plain HTTP has no SNI, whatever its Host");
});

const GATEWAY = meshYaml([{ ns: "edge", name: "unused" }, { ns: "b", name: "web", port: 8080 }]) + gatewayYaml("edge", "gw", 8080, '[{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]') + `---
apiVersion: v1
kind: Service
metadata: {name: gw, namespace: edge}
spec: {selector: {gw: gw}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: edge}
spec: {hosts: [web.example.com], gateways: [gw], http: [{route: [{destination: {host: web.b.svc.cluster.local, port: {number: 8080}}}]}]}
`;
const atGateway = (spec: string) => `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: edge-policy, namespace: edge}\nspec:\n  selector: {matchLabels: {gw: gw}}\n${spec.replace(/^/gm, "  ")}\n`;

test("authorize at a gateway: its policies deny there (a gateway with policies is not waved through); with none it says nothing", () => {
  const denyAdmin = snapshotOf(GATEWAY + atGateway(`action: DENY\nrules: [{to: [{operation: {paths: ["/admin"]}}]}]`));
  const denied = check(denyAdmin, "outside@edge/gw:80", "http://web.example.com/admin");
  assert.equal(denied.outcome.kind === "response" && denied.outcome.status, 403);
  assert.equal(denied.policy, "AuthorizationPolicy/edge/edge-policy");
  assert.equal(check(denyAdmin, "outside@edge/gw:80", "http://web.example.com/shop").allow, true);
  const open = check(snapshotOf(GATEWAY), "outside@edge/gw:80", "http://web.example.com/");
  assert.equal(open.allow, true);
  assert.ok(!open.trail.some((s) => s.stage === "authz" && s.at.includes("gw")), "a gateway with no policy adds nothing to the trail");
});

test("authorize at a gateway: remoteIpBlocks see the client as X-Forwarded-For names it, when gatewayTopology trusts one proxy in front", () => {
  const yaml = GATEWAY + atGateway(`action: DENY\nrules: [{from: [{source: {remoteIpBlocks: ["203.0.113.0/24"]}}]}]`);
  const trusting = snapshotOf(yaml, { defaultConfig: { holdApplicationUntilProxyStarts: false, gatewayTopology: { numTrustedProxies: 1 } } });
  const fromBehindLb = check(trusting, "outside@edge/gw:80", "http://web.example.com/", { headers: { "x-forwarded-for": "203.0.113.9" } });
  assert.equal(fromBehindLb.allow, false, "the client behind the trusted proxy is 203.0.113.9");
  assert.equal(check(trusting, "outside@edge/gw:80", "http://web.example.com/", { headers: { "x-forwarded-for": "198.51.100.7" } }).allow, true);
  // Trusting none, the header is the client's own word: the peer is the remote address.
  assert.equal(check(snapshotOf(yaml), "outside@edge/gw:80", "http://web.example.com/", { headers: { "x-forwarded-for": "203.0.113.9" } }).allow, true);
});
