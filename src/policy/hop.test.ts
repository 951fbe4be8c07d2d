// Live proxies ask the same engine, one hop at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "../registry/registry.js";
import { meshYaml, req, snapshotOf } from "../testing/helpers.js";
import { decideInbound, decideOutbound } from "./engine.js";
import { DEFAULT_HTTP_ROUTE } from "./route-timing.js";
import { defaultWorld } from "./world.js";

const snap = snapshotOf([
  meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }, { ns: "legacy", name: "old", inject: false }]),
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: only-a, namespace: b}\nspec:\n  rules: [{from: [{source: {namespaces: [a]}}]}]`,
].join("\n---\n"));
const reg = Registry.of(snap);
const env = { snapshot: snap, world: defaultWorld() };
const client = reg.instancesOf("a/client")[0]!;
const web = reg.instancesOf("b/web")[0]!;

test("hop: the client sidecar forwards to an endpoint over mTLS, naming the identities it must present", () => {
  const d = decideOutbound(env, client, req("http://web.b:8080/x"));
  assert.deepEqual(d.outcome, { kind: "forward", address: web.address, port: 8080, workload: "b/web", endpoint: "b/web:8080", mtls: true, identities: ["spiffe://cluster.local/ns/b/sa/web"], host: "web.b", http: DEFAULT_HTTP_ROUTE });
  const old = decideOutbound(env, client, req("http://old.legacy/"));
  assert.equal(old.outcome.kind === "forward" && old.outcome.mtls, false, "auto mTLS: plaintext to a workload without a sidecar");
  const ext = decideOutbound(env, client, req("https://api.example.com/"));
  assert.deepEqual([ext.outcome.kind, ext.outcome.kind === "forward" && ext.outcome.address], ["forward", "api.example.com"]);
  assert.equal(ext.outcome.kind === "forward" && ext.outcome.originateTls, false, "passthrough carries the client's own TLS: the proxy originates none");
});

test("hop: the server sidecar delivers with the caller's identity, or denies", () => {
  const ok = decideInbound(env, web, 8080, { mtlsFrom: client, sourceIp: client.address }, req("http://web.b:8080/x"));
  assert.equal(ok.outcome.kind, "deliver");
  assert.equal(ok.outcome.kind === "deliver" && ok.outcome.headers["x-forwarded-client-cert"], `By=${web.spiffe};URI=${client.spiffe}`);
  const plain = decideInbound(env, web, 8080, { sourceIp: "127.0.0.1" }, req("http://web.b:8080/x"));
  assert.deepEqual(plain.outcome, { kind: "response", status: 403, body: "RBAC: access denied", headers: { "content-type": "text/plain" } });
});

test("hop: the other replicas come with the forward outcome, in round-robin order, for retries", () => {
  const snap = snapshotOf(meshYaml([{ ns: "a", name: "client" }, { ns: "a", name: "web", port: 8080, replicas: 3 }]));
  const reg = Registry.of(snap);
  const client = reg.instancesOf("a/client")[0]!;
  const replicas = reg.instancesOf("a/web").map((w) => w.id);
  const d = decideOutbound({ snapshot: snap, world: defaultWorld(), pickEndpoint: () => 1 }, client, req("http://web.a:8080/"));
  assert.equal(d.outcome.kind, "forward");
  if (d.outcome.kind !== "forward") return;
  assert.deepEqual([d.outcome.workload, ...(d.outcome.alternates ?? []).map((a) => a.workload)], [replicas[1], replicas[2], replicas[0]]);
});
