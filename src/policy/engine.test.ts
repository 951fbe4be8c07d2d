import { test } from "node:test";
import assert from "node:assert/strict";
import { check, from, meshYaml, outcomeOf, req, snapshotOf } from "../testing/helpers.js";
import { decide } from "./engine.js";
import { errorAnswer } from "./ext-authz.js";
import { noFacts } from "./facts.js";
import { defaultWorld } from "./world.js";

const APPS = meshYaml([
  { ns: "a", name: "client" },
  { ns: "b", name: "web" },
  { ns: "b", name: "db", port: 5432, portName: "tcp-db" },
  { ns: "legacy", name: "old", inject: false },
]);
const ISTIO = "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}";
const doc = (kind: string, ns: string, name: string, spec: string, api = "networking.istio.io/v1") =>
  `apiVersion: ${api}\nkind: ${kind}\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const snap = (...docs: string[]) => snapshotOf([APPS, ISTIO, ...docs].join("\n---\n"));
const regOnly = (...docs: string[]) => snapshotOf([APPS, ISTIO, ...docs].join("\n---\n"), { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } });

test("outbound: in-mesh call is mTLS and reaches the app", () => {
  const d = check(snap(), "a/client", "http://web.b/hello");
  assert.equal(outcomeOf(d), 200);
  assert.ok(d.trail.some((s) => s.stage === "mtls" && /mutual TLS as spiffe:\/\/cluster.local\/ns\/a\/sa\/client/.test(s.message)));
  assert.match(d.outcome.kind === "response" ? d.outcome.body ?? "" : "", /"x-forwarded-client-cert":"By=spiffe:\/\/cluster.local\/ns\/b\/sa\/web;URI=spiffe:\/\/cluster.local\/ns\/a\/sa\/client"/);
});

test("outbound: REGISTRY_ONLY answers 502 on a port with an HTTP route table, resets elsewhere", () => {
  const s = regOnly();
  assert.equal(outcomeOf(check(s, "a/client", "http://httpbin.org/")), 502);
  assert.equal(outcomeOf(check(s, "a/client", "http://httpbin.org:8080/")), "reset");
  assert.equal(outcomeOf(check(s, "a/client", "https://httpbin.org/")), "reset");
  assert.equal(outcomeOf(check(s, "a/client", "tcp://httpbin.org:5432")), "reset");
  const d = check(s, "a/client", "http://httpbin.org/");
  assert.equal(d.code, "ZM_DENY_REGISTRY_ONLY");
  assert.equal(d.policy, "meshConfig.outboundTrafficPolicy");
});

test("outbound: ALLOW_ANY passes unknown hosts through", () => {
  const d = check(snap(), "a/client", "https://api.slack.com/");
  assert.deepEqual(d.outcome, { kind: "forwarded", host: "api.slack.com", port: 443 });
});

test("outbound: ALLOW_ANY with a hidden service goes plaintext, so STRICT resets it", () => {
  const sc = doc("Sidecar", "a", "s", `egress: [{hosts: ["./*"]}]`);
  assert.equal(outcomeOf(check(snap(sc), "a/client", "http://web.b/")), 200);
  const strict = doc("PeerAuthentication", "b", "strict", "mtls: {mode: STRICT}", "security.istio.io/v1");
  const d = check(snap(sc, strict), "a/client", "http://web.b/");
  assert.equal(outcomeOf(d), "reset");
  assert.equal(d.code, "ZM_DENY_MTLS_REQUIRED");
});

test("outbound: the Sidecar's outboundTrafficPolicy overrides the mesh", () => {
  const sc = doc("Sidecar", "a", "s", `outboundTrafficPolicy: {mode: REGISTRY_ONLY}`);
  assert.equal(outcomeOf(check(snap(sc), "a/client", "http://httpbin.org/")), 502);
});

test("outbound: auto mTLS sends plaintext to a workload without a sidecar", () => {
  const d = check(snap(), "a/client", "http://old.legacy/");
  assert.equal(outcomeOf(d), 200);
  assert.ok(d.trail.some((s) => /no sidecar, so plaintext/.test(s.message)));
});

test("outbound: a service without endpoints is 503 for HTTP, reset for TCP", () => {
  const svc = `apiVersion: v1\nkind: Service\nmetadata: {name: empty, namespace: b}\nspec: {selector: {app: none}, ports: [{port: 80, name: http}, {port: 9000, name: tcp-x}]}`;
  assert.equal(outcomeOf(check(snap(svc), "a/client", "http://empty.b/")), 503);
  assert.equal(outcomeOf(check(snap(svc), "a/client", "tcp://empty.b:9000")), "reset");
});

test("outbound: TCP to a TCP port echoes; L4 authz resets", () => {
  assert.equal(outcomeOf(check(snap(), "a/client", "tcp://db.b:5432")), "echo");
  const deny = doc("AuthorizationPolicy", "b", "no-a", `selector: {matchLabels: {app: db}}\naction: DENY\nrules: [{from: [{source: {namespaces: [a]}}]}]`, "security.istio.io/v1");
  assert.equal(outcomeOf(check(snap(deny), "a/client", "tcp://db.b:5432")), "reset");
});

test("inbound: a plaintext client has no principal, so principal-based ALLOW denies it", () => {
  const allow = doc("AuthorizationPolicy", "b", "only-a", `rules: [{from: [{source: {namespaces: [a]}}]}]`, "security.istio.io/v1");
  assert.equal(outcomeOf(check(snap(allow), "a/client", "http://web.b/")), 200);
  const d = check(snap(allow), "legacy/old", "http://web.b/");
  assert.equal(outcomeOf(d), 403);
  assert.equal(d.outcome.kind === "response" && d.outcome.body, "RBAC: access denied");
});

test("inbound: a mesh-wide policy in the root namespace applies everywhere", () => {
  const deny = doc("AuthorizationPolicy", "istio-system", "no-posts", `action: DENY\nrules: [{to: [{operation: {methods: [POST]}}]}]`, "security.istio.io/v1");
  assert.equal(outcomeOf(check(snap(deny), "a/client", "http://web.b/", { method: "POST" })), 403);
  assert.equal(outcomeOf(check(snap(deny), "a/client", "http://web.b/")), 200);
});

const DR = doc("DestinationRule", "b", "web", `host: web\nsubsets: [{name: v1, labels: {app: web}}, {name: v2, labels: {version: v2}}]`);

test("mesh VirtualService: header match to a subset, else a weighted split", () => {
  const vs = doc("VirtualService", "b", "web", `hosts: [web]
http:
- match: [{headers: {x-canary: {exact: "yes"}}}]
  route: [{destination: {host: web, subset: v2}}]
- route: [{destination: {host: web, subset: v1}, weight: 90}, {destination: {host: web, subset: v2}, weight: 10}]`);
  const d = check(snap(DR, vs), "a/client", "http://web.b/");
  assert.equal(outcomeOf(d), 200);
  assert.ok(d.trail.some((s) => s.stage === "route" && /weight 90 of web\/v1=90, web\/v2=10/.test(s.message)));
  const canary = check(snap(DR, vs), "a/client", "http://web.b/", { headers: { "x-canary": "yes" } });
  assert.equal(outcomeOf(canary), 503, "subset v2 has no endpoints");
  assert.equal(canary.code, "ZM_NO_HEALTHY_ENDPOINT");
});

test("mesh VirtualService: redirect, direct response, fault abort, no match", () => {
  const vs = doc("VirtualService", "b", "web", `hosts: [web.b.svc.cluster.local]
http:
- match: [{uri: {prefix: /old}}]
  redirect: {uri: /new, authority: web.b}
- match: [{uri: {exact: /teapot}}]
  directResponse: {status: 418, body: {string: teapot}}
- match: [{method: {exact: DELETE}}]
  fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
  route: [{destination: {host: web}}]
- match: [{uri: {regex: "/api/v[0-9]+/.*"}}]
  route: [{destination: {host: web}}]`);
  const s = snap(vs);
  const red = check(s, "a/client", "http://web.b/old");
  assert.equal(outcomeOf(red), 301);
  assert.equal(red.outcome.kind === "response" && red.outcome.headers?.location, "http://web.b/new");
  assert.equal(outcomeOf(check(s, "a/client", "http://web.b/teapot")), 418);
  assert.equal(outcomeOf(check(s, "a/client", "http://web.b/x", { method: "DELETE" })), 500);
  assert.equal(outcomeOf(check(s, "a/client", "http://web.b/api/v2/items")), 200);
  assert.equal(outcomeOf(check(s, "a/client", "http://web.b/elsewhere")), 404);
});

const GATEWAY = `apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingress}}
  template:
    metadata:
      labels: {istio: ingress}
      annotations: {inject.istio.io/templates: gateway}
    spec: {serviceAccountName: ingress-sa, containers: [{name: istio-proxy, image: auto}]}
---
apiVersion: v1
kind: Service
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {istio: ingress}
  ports: [{name: http2, port: 80, targetPort: 8080}, {name: tcp, port: 31400, targetPort: 31400}]`;
const gw = (servers: string) => doc("Gateway", "b", "gw", `selector: {istio: ingress}\nservers:\n${servers}`);
const HTTP_SERVER = `- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["*.example.com"]`;
const out = "outside@istio-system/ingress:80";

test("gateway: wildcard server host, VirtualService host and match, 404 otherwise", () => {
  const vs = doc("VirtualService", "b", "shop", `hosts: [shop.example.com]
gateways: [gw]
http:
- match: [{uri: {prefix: /api}, method: {exact: GET}, port: 80}]
  route: [{destination: {host: web, port: {number: 80}}}]
- match: [{authority: {exact: shop.example.com}, headers: {x-admin: {prefix: "y"}}}]
  route: [{destination: {host: db, port: {number: 5432}}}]`);
  const s = snap(GATEWAY, gw(HTTP_SERVER), vs);
  const ok = check(s, out, "http://shop.example.com/api/items");
  assert.equal(outcomeOf(ok), 200);
  assert.ok(ok.trail.some((t) => t.stage === "mtls" && /spiffe:\/\/cluster.local\/ns\/istio-system\/sa\/ingress-sa/.test(t.message)), "the gateway calls with its own identity");
  assert.equal(outcomeOf(check(s, out, "http://shop.example.com/api/items", { method: "POST" })), 404);
  assert.equal(outcomeOf(check(s, out, "http://other.example.com/api")), 404);
  assert.equal(outcomeOf(check(s, out, "http://shop.example.org/api")), 404);
});

test("gateway: server host namespace restricts which VirtualServices bind", () => {
  const vs = doc("VirtualService", "b", "shop", `hosts: [shop.example.com]\ngateways: [b/gw]\nhttp: [{route: [{destination: {host: web}}]}]`);
  assert.equal(outcomeOf(check(snap(GATEWAY, gw(`- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["b/*"]`), vs), out, "http://shop.example.com/")), 200);
  assert.equal(outcomeOf(check(snap(GATEWAY, gw(`- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["a/*"]`), vs), out, "http://shop.example.com/")), 404);
  assert.equal(outcomeOf(check(snap(GATEWAY, gw(`- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["./*"]`), vs), out, "http://shop.example.com/")), 200);
});

test("gateway: httpsRedirect answers 301 with the https Location", () => {
  const s = snap(GATEWAY, gw(`${HTTP_SERVER}\n  tls: {httpsRedirect: true}`));
  const d = check(s, out, "http://shop.example.com/a?b=1");
  assert.equal(outcomeOf(d), 301);
  assert.equal(d.outcome.kind === "response" && d.outcome.headers?.location, "https://shop.example.com/a?b=1");
});

test("gateway: TCP server routes by port; a port without a server resets", () => {
  const vs = doc("VirtualService", "b", "tcp", `hosts: ["*"]\ngateways: [gw]\ntcp: [{match: [{port: 31400}], route: [{destination: {host: db, port: {number: 5432}}}]}]`);
  const s = snap(GATEWAY, gw(`- port: {number: 31400, name: tcp, protocol: TCP}\n  hosts: ["*"]`), vs);
  assert.equal(outcomeOf(check(s, "outside@istio-system/ingress:31400", "tcp://anything:31400")), "echo");
  assert.equal(outcomeOf(check(s, out, "http://shop.example.com/")), "reset");
});

test("gateway: several gateways each serve only the Gateways selecting them", () => {
  const other = GATEWAY.replaceAll("ingress", "other").replace("istio: other", "istio: other");
  const vs = doc("VirtualService", "b", "shop", `hosts: [shop.example.com]\ngateways: [gw]\nhttp: [{route: [{destination: {host: web}}]}]`);
  const s = snap(GATEWAY, other, gw(HTTP_SERVER), vs);
  assert.equal(outcomeOf(check(s, out, "http://shop.example.com/")), 200);
  assert.equal(outcomeOf(check(s, "outside@istio-system/other:80", "http://shop.example.com/")), "reset");
});

test("inbound: connection.sni conditions see the SNI of TLS the application terminates; CUSTOM denials answer as ext_authz does", () => {
  const denySni = (sni: string) => snapshotOf([meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "tlsapp", port: 8443, portName: "https" }]), ISTIO,
    doc("AuthorizationPolicy", "b", "no-sni", `selector: {matchLabels: {app: tlsapp}}\naction: DENY\nrules: [{when: [{key: connection.sni, values: ["${sni}"]}]}]`, "security.istio.io/v1")].join("\n---\n"));
  // Denied at the server's sidecar (reset by the policy) for that name; for another, past authorization to the application.
  const denied = check(denySni("tlsapp.b"), "a/client", "https://tlsapp.b:8443/");
  assert.deepEqual([outcomeOf(denied), denied.code, denied.policy], ["reset", "ZM_DENY_AUTHZ", "AuthorizationPolicy/b/no-sni"]);
  const other = check(denySni("other.b"), "a/client", "https://tlsapp.b:8443/");
  assert.notEqual(other.code, "ZM_DENY_AUTHZ", other.reason);
  assert.ok(other.trail.some((t) => t.stage === "app"), "it reached the application");
  const custom = snapshotOf([APPS, ISTIO, doc("AuthorizationPolicy", "b", "ext", `selector: {matchLabels: {app: web}}\naction: CUSTOM\nprovider: {name: ext}\nrules: [{}]`, "security.istio.io/v1")].join("\n---\n"),
    { extensionProviders: [{ name: "ext", kind: "envoyExtAuthzHttp", service: "authz.b.svc.cluster.local", port: 9000 }] });
  // The engine asks for the authorizer's answer; an authorizer that cannot be asked fails closed with Envoy's 403 and no body.
  const d = check(custom, "a/client", "http://web.b/");
  assert.equal(d.outcome.kind, "ask");
  const q = d.outcome.kind === "ask" ? d.outcome.questions[0]! : undefined;
  assert.equal(q?.kind === "authorizer" && q.provider.name, "ext");
  const facts = noFacts();
  facts.authorizer.set(q!.key, errorAnswer(q!.kind === "authorizer" ? q!.provider : (undefined as never), "unreachable"));
  const closed = decide({ snapshot: custom, world: defaultWorld(), facts }, from(custom, "a/client"), req("http://web.b/"));
  assert.deepEqual([outcomeOf(closed), closed.outcome.kind === "response" && closed.outcome.body, closed.code], [403, "", "ZM_DENY_EXT_AUTHZ"]);
});

test("policies attached by targetRef(s) to Gateway API resources apply to no workload (zeromesh runs none)", () => {
  const target = "targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}";
  const s = snapshotOf([meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web" }]),
    doc("AuthorizationPolicy", "b", "deny-all", `${target}\naction: DENY\nrules: [{}]`, "security.istio.io/v1"),
    doc("RequestAuthentication", "b", "jwt", `${target}\njwtRules: [{issuer: x, jwks: '{"keys": [{"kty": "EC"}]}'}]`, "security.istio.io/v1")].join("\n---\n"));
  const d = check(s, "a/client", "http://web.b/", { headers: { authorization: "Bearer not-a-jwt" } });
  assert.equal(outcomeOf(d), 200, d.reason);
  assert.ok(!d.trail.some((t) => t.stage === "authn"), "no token check at web");
});

test("attack: headers an authorizer adds to one request never reach another request's application", () => {
  // A walk starts with a shared empty upstream change: a filter must replace it, never write into it.
  const s = snapshotOf([APPS, ISTIO, doc("AuthorizationPolicy", "b", "ext", `selector: {matchLabels: {app: web}}\naction: CUSTOM\nprovider: {name: ext}\nrules: [{to: [{operation: {paths: ["/private"]}}]}]`, "security.istio.io/v1")].join("\n---\n"),
    { extensionProviders: [{ name: "ext", kind: "envoyExtAuthzHttp", service: "authz.b.svc.cluster.local", port: 9000 }] });
  const asked = check(s, "a/client", "http://web.b/private");
  const q = asked.outcome.kind === "ask" ? asked.outcome.questions[0]! : undefined;
  assert.equal(q?.kind, "authorizer");
  const facts = noFacts();
  facts.authorizer.set(q!.key, { verdict: "allow", upstream: { "x-user": "alice" }, upstreamRemove: [], downstream: {}, detail: "allowed as alice" });
  const body = (d: ReturnType<typeof check>) => (d.outcome.kind === "response" ? d.outcome.body ?? "" : "");
  const first = decide({ snapshot: s, world: defaultWorld(), facts }, from(s, "a/client"), req("http://web.b/private"));
  assert.equal(outcomeOf(first), 200, first.reason);
  assert.match(body(first), /"x-user":"alice"/);
  for (const later of [check(s, "a/client", "http://web.b/public"), decide({ snapshot: s, world: defaultWorld(), facts }, from(s, "a/client"), req("http://web.b/public"))]) {
    assert.equal(outcomeOf(later), 200, later.reason);
    assert.doesNotMatch(body(later), /x-user/);
  }
});
