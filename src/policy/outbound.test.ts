// The client sidecar's choices, each where a slip would send traffic elsewhere: what names the destination (Host
// for HTTP, the address for TLS and TCP), what REGISTRY_ONLY answers (502 only for HTTP on a port with an in-scope
// HTTP route table), and where ALLOW_ANY's passthrough goes (never the node; an in-cluster Service's endpoint).
import { test } from "node:test";
import assert from "node:assert/strict";
import { check, from, meshYaml, outcomeOf, req, snapshotOf } from "../testing/helpers.js";
import { Registry } from "../registry/registry.js";
import { decide } from "./engine.js";
import { defaultWorld } from "./world.js";

const APPS = meshYaml([
  { ns: "a", name: "client", port: 9000, portName: "http-client" },
  { ns: "b", name: "web" },
  { ns: "b", name: "db", port: 5432, portName: "tcp-db" },
]);
const doc = (kind: string, ns: string, name: string, spec: string, api = "networking.istio.io/v1") =>
  `apiVersion: ${api}\nkind: ${kind}\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const ONLY_OWN_NAMESPACE = doc("Sidecar", "a", "own", `egress: [{hosts: ["./*"]}]`);
const EXTERNAL = doc("ServiceEntry", "b", "api", `hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS\nlocation: MESH_EXTERNAL`);
const snap = (...docs: string[]) => snapshotOf([APPS, ...docs].join("\n---\n"));
const regOnly = (...docs: string[]) => snapshotOf([APPS, ...docs].join("\n---\n"), { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } });

test("outbound: plain HTTP is routed by its Host header, TLS and TCP by the address connected to", () => {
  const byHost = check(snap(), "a/client", "http://203.0.113.9/", { headers: { host: "web.b" } });
  assert.equal(outcomeOf(byHost), 200);
  assert.ok(byHost.trail.some((s) => s.stage === "outbound" && /web\.b\.svc\.cluster\.local/.test(s.message)), "the trail names the service the Host chose");
  // An address with a Host of an unknown name is the unknown name, not the address.
  assert.equal(outcomeOf(check(regOnly(), "a/client", "http://web.b/", { headers: { host: "unknown.example" } })), 502);
  // TCP: the Host header a client might carry means nothing.
  assert.equal(outcomeOf(check(snap(), "a/client", "tcp://db.b:5432", { headers: { host: "unknown.example" } })), "echo");
  assert.equal(outcomeOf(check(regOnly(), "a/client", "tcp://unknown.example:5432", { headers: { host: "db.b" } })), "reset");
});

test("outbound: policy reads the normalized path, not the one the client wrote", () => {
  const s = snap(`apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: no-admin, namespace: b}\nspec: {action: DENY, rules: [{to: [{operation: {paths: ["/admin"]}}]}]}`);
  const d = decide({ snapshot: s, world: defaultWorld() }, from(s, "a/client"), { ...req("http://web.b/"), path: "/public/../admin" });
  assert.equal(outcomeOf(d), 403);
  assert.ok(d.trail.some((t) => /path \/public\/\.\.\/admin normalized to \/admin/.test(t.message)));
});

test("outbound: a request to a service's second port goes to that port", () => {
  const multi = `apiVersion: v1\nkind: Service\nmetadata: {name: multi, namespace: b}\nspec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 80}, {name: http-alt, port: 8080, targetPort: 80}]}`;
  const d = check(snap(multi), "a/client", "http://multi.b:8080/");
  assert.equal(outcomeOf(d), 200);
  assert.ok(d.trail.some((s) => s.stage === "route" && /multi\.b\.svc\.cluster\.local:8080/.test(s.message)), JSON.stringify(d.trail.map((s) => s.message)));
});

test("outbound: a request target that is not a path is 400 at the client sidecar, before any routing", () => {
  const s = snap();
  const r = req("http://web.b/");
  const d = decide({ snapshot: s, world: defaultWorld() }, from(s, "a/client"), { ...r, path: "web.b" });
  assert.equal(outcomeOf(d), 400);
  assert.equal(d.code, "ZM_BAD_REQUEST_PATH");
  assert.ok(!d.trail.some((s) => s.stage === "sidecar-scope"), "decided before the Sidecar scope is looked at");
});

test("outbound: REGISTRY_ONLY answers 502 only to HTTP, and only on a port where an in-scope service has an HTTP route table", () => {
  assert.equal(outcomeOf(check(regOnly(), "a/client", "http://unknown.example/")), 502, "web.b:80 is HTTP and in scope");
  assert.equal(outcomeOf(check(regOnly(), "a/client", "tcp://unknown.example:80")), "reset", "TCP never gets an HTTP answer");
  const hidden = check(regOnly(ONLY_OWN_NAMESPACE), "a/client", "http://unknown.example/");
  assert.equal(outcomeOf(hidden), "reset", "web.b:80 is out of scope: no route table on port 80, the BlackHole resets");
  assert.equal(hidden.code, "ZM_DENY_REGISTRY_ONLY");
  assert.equal(outcomeOf(check(regOnly(ONLY_OWN_NAMESPACE), "a/client", "http://unknown.example:9000/")), 502, "client.a:9000 is in scope");
  // A known service outside the scope is denied as such, and says so.
  const outside = check(regOnly(ONLY_OWN_NAMESPACE), "a/client", "http://web.b/");
  assert.equal(outcomeOf(outside), "reset");
  assert.ok(outside.trail.some((s) => /outside the workload's egress scope/.test(s.message)), JSON.stringify(outside.trail.map((s) => s.message)));
  const unknown = check(regOnly(), "a/client", "tcp://unknown.example:5000");
  assert.ok(unknown.trail.some((s) => /not in the mesh's registry/.test(s.message)));
});

test("outbound: ALLOW_ANY passthrough never reaches the node's own addresses", () => {
  for (const url of ["http://127.0.0.1:15000/", "http://localhost:8080/", "tcp://127.0.0.2:22", "http://[::1]:80/", "http://0.0.0.0:80/"]) {
    const d = check(snap(), "a/client", url);
    assert.equal(outcomeOf(d), "reset", url);
    assert.equal(d.code, "ZM_DENY_NODE_LOCAL", url);
  }
});

test("outbound: ALLOW_ANY passthrough of an in-cluster Service goes to its endpoint, plaintext; a port it lacks is refused; an external host is forwarded", () => {
  const hidden = check(snap(ONLY_OWN_NAMESPACE), "a/client", "http://web.b/");
  assert.equal(outcomeOf(hidden), 200);
  assert.ok(hidden.trail.some((s) => /passed through to the original destination without mTLS/.test(s.message)));
  const noPort = check(snap(ONLY_OWN_NAMESPACE), "a/client", "http://web.b:81/");
  assert.equal(outcomeOf(noPort), "refused");
  assert.equal(noPort.code, "ZM_NO_HEALTHY_ENDPOINT");
  // Without a Sidecar too: a Service's name on a port it does not have is no route to it, and passthrough finds nothing.
  assert.equal(outcomeOf(check(snap(), "a/client", "http://web.b:81/")), "refused");
  // Passthrough to an in-cluster endpoint arrives from the client's address: the destination's ipBlocks see it.
  const client = Registry.of(snap()).instancesOf("a/client")[0]!;
  const denyClient = `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: no-client, namespace: b}\nspec: {action: DENY, rules: [{from: [{source: {ipBlocks: ["${client.address}/32"]}}]}]}`;
  assert.equal(outcomeOf(check(snap(ONLY_OWN_NAMESPACE, denyClient), "a/client", "http://web.b/")), 403);
  // A ServiceEntry's host out of scope is not an in-cluster Service: it goes out as the client asked.
  assert.deepEqual(check(snap(EXTERNAL, ONLY_OWN_NAMESPACE), "a/client", "http://api.example.com/").outcome, { kind: "forwarded", host: "api.example.com", port: 80 });
});
