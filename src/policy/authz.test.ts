import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MESH } from "../api/mesh.js";
import type { AuthorizationPolicy } from "../api/types.js";
import { snapshotOf } from "../testing/helpers.js";
import { evaluateAuthz, type AuthzContext } from "./authz.js";

function policy(spec: string, opts: { name?: string; annotations?: string } = {}): AuthorizationPolicy {
  const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${opts.name ?? "p"}
  namespace: default${opts.annotations ? `\n  annotations: ${opts.annotations}` : ""}
spec:
${spec.replace(/^/gm, "  ")}`;
  return snapshotOf(yaml).list("AuthorizationPolicy")[0]!;
}

const SLEEP = "cluster.local/ns/default/sa/sleep";
const base: AuthzContext = {
  http: true, principal: SLEEP, sourceIp: "10.1.2.3", destinationPort: 8080, host: "svc.default:8080",
  method: "GET", path: "/api/items", headers: { "x-user": "alice" }, sni: "svc.default",
};

const cases: { name: string; spec: string; ctx?: Partial<AuthzContext>; allow: boolean }[] = [
  // sources
  { name: "principals exact", spec: `rules: [{from: [{source: {principals: ["${SLEEP}"]}}]}]`, allow: true },
  { name: "principals other", spec: `rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/other"]}}]}]`, allow: false },
  { name: "principals prefix", spec: `rules: [{from: [{source: {principals: ["cluster.local/ns/default/*"]}}]}]`, allow: true },
  { name: "principals suffix", spec: `rules: [{from: [{source: {principals: ["*/sa/sleep"]}}]}]`, allow: true },
  { name: "principals presence needs mTLS", spec: `rules: [{from: [{source: {principals: ["*"]}}]}]`, ctx: { principal: undefined }, allow: false },
  { name: "principals presence with mTLS", spec: `rules: [{from: [{source: {principals: ["*"]}}]}]`, allow: true },
  { name: "notPrincipals excludes", spec: `rules: [{from: [{source: {notPrincipals: ["${SLEEP}"]}}]}]`, allow: false },
  { name: "notPrincipals plaintext passes", spec: `rules: [{from: [{source: {notPrincipals: ["${SLEEP}"]}}]}]`, ctx: { principal: undefined }, allow: true },
  { name: "namespaces from principal", spec: `rules: [{from: [{source: {namespaces: ["default"]}}]}]`, allow: true },
  { name: "namespaces need mTLS", spec: `rules: [{from: [{source: {namespaces: ["default"]}}]}]`, ctx: { principal: undefined }, allow: false },
  { name: "notNamespaces", spec: `rules: [{from: [{source: {notNamespaces: ["default"]}}]}]`, allow: false },
  { name: "requestPrincipals without JWT", spec: `rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]`, allow: false },
  { name: "requestPrincipals with JWT", spec: `rules: [{from: [{source: {requestPrincipals: ["issuer/sub"]}}]}]`, ctx: { requestPrincipal: "issuer/sub" }, allow: true },
  { name: "notRequestPrincipals without JWT", spec: `rules: [{from: [{source: {notRequestPrincipals: ["*"]}}]}]`, allow: true },
  { name: "ipBlocks CIDR", spec: `rules: [{from: [{source: {ipBlocks: ["10.1.0.0/16"]}}]}]`, allow: true },
  { name: "ipBlocks single address", spec: `rules: [{from: [{source: {ipBlocks: ["10.1.2.4"]}}]}]`, allow: false },
  { name: "notIpBlocks", spec: `rules: [{from: [{source: {notIpBlocks: ["10.0.0.0/8"]}}]}]`, allow: false },
  { name: "remoteIpBlocks uses X-Forwarded-For origin", spec: `rules: [{from: [{source: {remoteIpBlocks: ["203.0.113.0/24"]}}]}]`, ctx: { remoteIp: "203.0.113.9" }, allow: true },
  { name: "notRemoteIpBlocks", spec: `rules: [{from: [{source: {notRemoteIpBlocks: ["203.0.113.0/24"]}}]}]`, ctx: { remoteIp: "203.0.113.9" }, allow: false },
  { name: "source fields are ANDed", spec: `rules: [{from: [{source: {namespaces: ["default"], ipBlocks: ["192.168.0.0/16"]}}]}]`, allow: false },
  { name: "from entries are ORed", spec: `rules: [{from: [{source: {namespaces: ["x"]}}, {source: {ipBlocks: ["10.0.0.0/8"]}}]}]`, allow: true },
  // operations
  { name: "hosts with port", spec: `rules: [{to: [{operation: {hosts: ["svc.default"]}}]}]`, allow: true },
  { name: "hosts case-insensitive suffix", spec: `rules: [{to: [{operation: {hosts: ["*.DEFAULT"]}}]}]`, allow: true },
  { name: "notHosts", spec: `rules: [{to: [{operation: {notHosts: ["svc.default"]}}]}]`, allow: false },
  { name: "ports", spec: `rules: [{to: [{operation: {ports: ["8080"]}}]}]`, allow: true },
  { name: "ports other", spec: `rules: [{to: [{operation: {ports: ["9090"]}}]}]`, allow: false },
  { name: "notPorts", spec: `rules: [{to: [{operation: {notPorts: ["8080"]}}]}]`, allow: false },
  { name: "methods", spec: `rules: [{to: [{operation: {methods: ["GET", "HEAD"]}}]}]`, allow: true },
  { name: "notMethods", spec: `rules: [{to: [{operation: {notMethods: ["GET"]}}]}]`, allow: false },
  { name: "paths prefix", spec: `rules: [{to: [{operation: {paths: ["/api/*"]}}]}]`, allow: true },
  { name: "paths exact", spec: `rules: [{to: [{operation: {paths: ["/api/items"]}}]}]`, ctx: { path: "/api/items" }, allow: true },
  { name: "paths suffix", spec: `rules: [{to: [{operation: {paths: ["*/items"]}}]}]`, allow: true },
  { name: "paths template {*}", spec: `rules: [{to: [{operation: {paths: ["/api/{*}"]}}]}]`, allow: true },
  { name: "paths template {*} one segment only", spec: `rules: [{to: [{operation: {paths: ["/{*}"]}}]}]`, allow: false },
  { name: "paths template {**}", spec: `rules: [{to: [{operation: {paths: ["/{**}/items"]}}]}]`, allow: true },
  { name: "notPaths", spec: `rules: [{to: [{operation: {notPaths: ["/api/*"]}}]}]`, allow: false },
  // conditions
  { name: "when header", spec: `rules: [{when: [{key: "request.headers[X-User]", values: ["alice"]}]}]`, allow: true },
  { name: "when header missing", spec: `rules: [{when: [{key: "request.headers[x-team]", values: ["*"]}]}]`, allow: false },
  { name: "when header notValues", spec: `rules: [{when: [{key: "request.headers[x-user]", notValues: ["alice"]}]}]`, allow: false },
  { name: "when source.ip", spec: `rules: [{when: [{key: source.ip, values: ["10.1.2.0/24"]}]}]`, allow: true },
  { name: "when remote.ip", spec: `rules: [{when: [{key: remote.ip, values: ["10.1.2.3"]}]}]`, allow: true },
  { name: "when source.namespace", spec: `rules: [{when: [{key: source.namespace, values: ["default"]}]}]`, allow: true },
  { name: "when source.principal", spec: `rules: [{when: [{key: source.principal, values: ["${SLEEP}"]}]}]`, allow: true },
  { name: "when destination.port", spec: `rules: [{when: [{key: destination.port, values: ["8080"]}]}]`, allow: true },
  { name: "when connection.sni", spec: `rules: [{when: [{key: connection.sni, values: ["*.default"]}]}]`, allow: true },
  { name: "when request.auth.claims without JWT", spec: `rules: [{when: [{key: "request.auth.claims[groups]", values: ["admin"]}]}]`, allow: false },
  { name: "when conditions are ANDed", spec: `rules: [{when: [{key: source.namespace, values: ["default"]}, {key: destination.port, values: ["1"]}]}]`, allow: false },
  // structure
  { name: "spec {} allows nothing", spec: `{}`, allow: false },
  { name: "rules [{}] allows everything", spec: `rules: [{}]`, allow: true },
  { name: "rules are ORed", spec: `rules: [{to: [{operation: {ports: ["1"]}}]}, {to: [{operation: {ports: ["8080"]}}]}]`, allow: true },
  { name: "DENY matching", spec: `action: DENY\nrules: [{to: [{operation: {methods: ["GET"]}}]}]`, allow: false },
  { name: "AUDIT never changes the outcome", spec: `action: AUDIT\nrules: [{}]`, allow: true },
  // TCP: HTTP-only fields
  { name: "TCP: ALLOW rule with methods never matches", spec: `rules: [{to: [{operation: {methods: ["GET"]}}]}]`, ctx: { http: false }, allow: false },
  { name: "TCP: ALLOW rule with ports only matches", spec: `rules: [{to: [{operation: {ports: ["8080"]}}]}]`, ctx: { http: false }, allow: true },
  { name: "TCP: DENY rule ignores methods and matches", spec: `action: DENY\nrules: [{to: [{operation: {methods: ["POST"], ports: ["8080"]}}]}]`, ctx: { http: false }, allow: false },
  { name: "TCP: DENY rule ignores request.headers", spec: `action: DENY\nrules: [{when: [{key: "request.headers[x]", values: ["y"]}]}]`, ctx: { http: false }, allow: false },
  { name: "TCP: DENY rule still checks L4 fields", spec: `action: DENY\nrules: [{to: [{operation: {methods: ["GET"], ports: ["1"]}}]}]`, ctx: { http: false }, allow: true },  // Cases found by mutation testing (each would pass with a broken matcher).
  { name: "principal of no SPIFFE form has no namespace", spec: `rules: [{from: [{source: {namespaces: ["default"]}}]}]`, ctx: { principal: "not-a-spiffe-principal" }, allow: false },
  { name: "hosts: a host with its port, any case", spec: `rules: [{to: [{operation: {hosts: ["svc.default:8080"]}}]}]`, ctx: { host: "SVC.Default:8080" }, allow: true },
  { name: "hosts: another host does not match", spec: `rules: [{to: [{operation: {hosts: ["other.default"]}}]}]`, allow: false },
  { name: "hosts: any of several", spec: `rules: [{to: [{operation: {hosts: ["other.default", "svc.default"]}}]}]`, allow: true },
  { name: "paths: any of several", spec: `rules: [{to: [{operation: {paths: ["/nope", "/api/items"]}}]}]`, allow: true },
  { name: "to entries are ORed", spec: `rules: [{to: [{operation: {ports: ["1"]}}, {operation: {ports: ["8080"]}}]}]`, allow: true },
  { name: "when source.ip is the peer, not remote.ip", spec: `rules: [{when: [{key: source.ip, values: ["10.1.2.0/24"]}]}]`, ctx: { remoteIp: "203.0.113.9" }, allow: true },
  { name: "when remote.ip is not the peer when a gateway said otherwise", spec: `rules: [{when: [{key: remote.ip, values: ["10.1.2.0/24"]}]}]`, ctx: { remoteIp: "203.0.113.9" }, allow: false },
  { name: "TCP: ALLOW rule with principals only matches", spec: `rules: [{from: [{source: {principals: ["${SLEEP}"]}}]}]`, ctx: { http: false }, allow: true },
  { name: "TCP: ALLOW rule with requestPrincipals never matches", spec: `rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]`, ctx: { http: false }, allow: false },
  { name: "TCP: DENY rule ignores requestPrincipals and matches", spec: `action: DENY\nrules: [{from: [{source: {requestPrincipals: ["*"]}}]}]`, ctx: { http: false }, allow: false },
  { name: "TCP: DENY rule ignores notRequestPrincipals and matches", spec: `action: DENY\nrules: [{from: [{source: {notRequestPrincipals: ["*"], principals: ["${SLEEP}"]}}]}]`, ctx: { http: false }, allow: false },
  { name: "TCP: an ALLOW rule with HTTP fields in any of its operations never matches", spec: `rules: [{to: [{operation: {methods: ["GET"]}}, {operation: {ports: ["8080"]}}]}]`, ctx: { http: false }, allow: false },
];

for (const c of cases) {
  test(`authz: ${c.name}`, () => {
    const r = evaluateAuthz([policy(c.spec)], { ...base, ...c.ctx }, DEFAULT_MESH);
    assert.equal(r.allow, c.allow, r.reason);
  });
}

test("authz: a DENY policy without rules (which validation refuses, as Istio's webhook does) would deny nothing", () => {
  const p = { ...policy(`action: DENY\nrules: [{}]`), rules: [] };
  assert.equal(evaluateAuthz([p], base, DEFAULT_MESH).allow, true);
  assert.throws(() => policy(`action: DENY`), /DENY action without `rules` is meaningless/);
});

test("authz: DENY is evaluated before ALLOW", () => {
  const allow = policy(`rules: [{}]`, { name: "allow-all" });
  const deny = policy(`action: DENY\nrules: [{to: [{operation: {paths: ["/api/*"]}}]}]`, { name: "deny-api" });
  const r = evaluateAuthz([allow, deny], base, DEFAULT_MESH);
  assert.equal(r.allow, false);
  assert.equal(r.policy, "AuthorizationPolicy/default/deny-api");
  assert.equal(r.rule, "rules[0]");
});

test("authz: CUSTOM runs first and never short-circuits DENY or ALLOW; a matching CUSTOM names the authorizer to ask", () => {
  const custom = policy(`action: CUSTOM\nprovider: {name: ext}\nrules: [{to: [{operation: {paths: ["/api/*"]}}]}]`, { name: "ext" });
  const allow = policy(`rules: [{}]`, { name: "allow-all" });
  const r = evaluateAuthz([allow, custom], base, DEFAULT_MESH);
  assert.equal(r.allow, false);
  assert.match(r.reason, /does not define/);
  const mesh = { extensionProviders: [{ name: "ext", kind: "envoyExtAuthzHttp" as const, service: "authz.default", port: 9000 }] };
  const withProvider = evaluateAuthz([allow, custom], base, mesh);
  assert.equal(withProvider.customProvider?.name, "ext");
  assert.equal(withProvider.allow, false, "a matching CUSTOM policy is not an allow: the authorizer must say so first");
  assert.match(withProvider.reason, /decides first/);
  // Once the authorizer allowed, DENY and ALLOW decide as if CUSTOM were not there.
  const after = evaluateAuthz([allow, custom], base, mesh, true);
  assert.deepEqual([after.allow, after.customProvider, after.policy], [true, undefined, "AuthorizationPolicy/default/allow-all"]);
  const denyApi = policy(`action: DENY\nrules: [{to: [{operation: {paths: ["/api/*"]}}]}]`, { name: "deny-api" });
  const denied = evaluateAuthz([allow, custom, denyApi], base, mesh, true);
  assert.deepEqual([denied.allow, denied.policy], [false, "AuthorizationPolicy/default/deny-api"]);
  // A DENY matching the same request denies whatever CUSTOM says; a CUSTOM that does not match leaves DENY and ALLOW to decide.
  const deny = policy(`action: DENY\nrules: [{to: [{operation: {paths: ["/other"]}}]}]`, { name: "deny-other" });
  const onlyAllowApi = policy(`rules: [{to: [{operation: {paths: ["/api/*"]}}]}]`, { name: "allow-api" });
  const other = evaluateAuthz([custom, deny, onlyAllowApi], { ...base, path: "/other" }, mesh);
  assert.deepEqual([other.allow, other.policy], [false, "AuthorizationPolicy/default/deny-other"]);
  const elsewhere = evaluateAuthz([custom, onlyAllowApi], { ...base, path: "/elsewhere" }, mesh);
  assert.deepEqual([elsewhere.allow, elsewhere.policy], [false, "AuthorizationPolicy/default/allow-api"], "ALLOW policies still apply after a CUSTOM that did not match");
  const notMatching = evaluateAuthz([custom], { ...base, path: "/other" }, DEFAULT_MESH);
  assert.equal(notMatching.allow, true);
});

test("authz: CUSTOM needs an ext-authz provider of that name: another provider's, or one of another kind, is none", () => {
  const custom = policy(`action: CUSTOM\nprovider: {name: ext}\nrules: [{}]`, { name: "ext" });
  const none = /does not define as an ext-authz provider/;
  const others = { extensionProviders: [{ name: "other", kind: "envoyExtAuthzHttp" as const, service: "a.default", port: 9000 }] };
  const r = evaluateAuthz([custom], base, others as typeof DEFAULT_MESH & typeof others);
  assert.equal(r.customProvider, undefined);
  assert.match(r.reason, none);
  const notAuthz = { extensionProviders: [{ name: "ext", kind: "envoyFileAccessLog" as const, path: "/dev/stdout" }] };
  const n = evaluateAuthz([custom], base, notAuthz as unknown as typeof DEFAULT_MESH);
  assert.equal(n.customProvider, undefined);
  assert.match(n.reason, none);
  const grpc = { extensionProviders: [{ name: "other", kind: "envoyExtAuthzHttp" as const, service: "a.default", port: 9000 }, { name: "ext", kind: "envoyExtAuthzGrpc" as const, service: "b.default", port: 9001 }] };
  const g = evaluateAuthz([custom], base, grpc as unknown as typeof DEFAULT_MESH);
  assert.equal(g.customProvider?.name, "ext");
  assert.equal(g.allow, false);
});

test("authz: CUSTOM policies naming two providers on one workload deny what they match (Istio's deny-all for that error)", () => {
  const mesh = { extensionProviders: [{ name: "a", kind: "envoyExtAuthzHttp" as const, service: "a.default", port: 1 }, { name: "b", kind: "envoyExtAuthzGrpc" as const, service: "b.default", port: 2 }] };
  const one = policy(`action: CUSTOM\nprovider: {name: a}\nrules: [{to: [{operation: {paths: ["/a"]}}]}]`, { name: "one" });
  const two = policy(`action: CUSTOM\nprovider: {name: b}\nrules: [{to: [{operation: {paths: ["/b"]}}]}]`, { name: "two" });
  const r = evaluateAuthz([one, two], { ...base, path: "/b" }, mesh);
  assert.deepEqual([r.allow, r.customProvider, r.policy], [false, undefined, "AuthorizationPolicy/default/two"]);
  assert.match(r.reason, /one per workload/);
  assert.equal(evaluateAuthz([one, two], { ...base, path: "/c" }, mesh).allow, true);
  assert.equal(evaluateAuthz([one], { ...base, path: "/a" }, mesh).customProvider?.name, "a");
});

test("authz: request.auth conditions read the verified token: principal, audiences, presenter, list and nested claims", () => {
  const auth = { requestPrincipal: "iss/alice", requestAuth: { claims: { groups: ["g1", "g2"], org: { tier: "gold" }, n: 7 }, audiences: ["api"], presenter: "web" } };
  const cases: [string, boolean][] = [
    [`{key: "request.auth.claims[groups]", values: [g2]}`, true],
    [`{key: "request.auth.claims[groups]", values: [g3]}`, false],
    [`{key: "request.auth.claims[org][tier]", values: [gold]}`, true],
    [`{key: "request.auth.claims[org][tier]", notValues: [gold]}`, false],
    [`{key: "request.auth.claims[n]", values: ["7"]}`, true],
    [`{key: "request.auth.claims[missing]", values: ["*"]}`, false],
    [`{key: request.auth.audiences, values: [api]}`, true],
    [`{key: request.auth.presenter, values: [web]}`, true],
    [`{key: request.auth.principal, values: ["iss/*"]}`, true],
  ];
  for (const [cond, allow] of cases) {
    const p = policy(`rules: [{when: [${cond}]}]`);
    assert.equal(evaluateAuthz([p], { ...base, ...auth }, DEFAULT_MESH).allow, allow, cond);
    assert.equal(evaluateAuthz([p], base, DEFAULT_MESH).allow, cond.includes("notValues"), `${cond} without a token`);
  }
  const any = policy(`rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]`);
  assert.equal(evaluateAuthz([any], { ...base, ...auth }, DEFAULT_MESH).allow, true);
  assert.equal(evaluateAuthz([any], base, DEFAULT_MESH).allow, false, "no token: requestPrincipals [*] does not match");
});

test("authz: dry-run policies are recorded but not enforced", () => {
  const dry = policy(`action: DENY\nrules: [{}]`, { name: "dry", annotations: `{"istio.io/dry-run": "true"}` });
  const r = evaluateAuthz([dry], base, DEFAULT_MESH);
  assert.equal(r.allow, true);
  assert.deepEqual(r.considered.map((v) => [v.policy, v.dryRun, v.rule]), [["AuthorizationPolicy/default/dry", true, 0]]);
});

test("authz: ALLOW denial names every policy that could have allowed", () => {
  const a = policy(`rules: [{from: [{source: {namespaces: ["x"]}}]}]`, { name: "a" });
  const b = policy(`{}`, { name: "b" });
  const r = evaluateAuthz([a, b], base, DEFAULT_MESH);
  assert.equal(r.allow, false);
  assert.deepEqual(r.considered.map((v) => v.policy), ["AuthorizationPolicy/default/a", "AuthorizationPolicy/default/b"]);
});
