// The nodes' side of the control plane, over real TLS: a node joins with its join credential and gets a pod CIDR,
// routes to the other nodes and the configuration it needs (no Secrets, no policies); it may report pods, register
// endpoints and get bootstrap credentials only for workloads assigned to it, only inside its CIDR; a node that
// leaves takes its endpoints; and a joined node's connection is not cut as an unauthenticated one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:http2";
import { JoinAuthority } from "../ca/join.js";
import { controlCall, controlFixture, waitUntil } from "../testing/control-plane.js";
import { meshYaml } from "../testing/helpers.js";
import type { NodeConfig } from "./node-protocol.js";

const NODES_YAML = `
---
${meshYaml([
  { ns: "n", name: "on-n1", port: 8080, node: "n1", command: ["serve", "--secret-flag"] },
  { ns: "n", name: "on-n2", port: 8080, node: "n2", command: ["serve", "--secret-flag"] },
  { ns: "n", name: "plain", port: 9000, node: "n1", inject: false },
  { ns: "istio-system", name: "impostor", sa: "zeromesh-control", node: "n1" },
])}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: a}
type: Opaque
data: {k: dg==}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: a}
spec: {}
`;

test("node endpoint: join, scope of what a node may do, leaving, and a joined node's connection kept", { timeout: 60_000 }, async () => {
  const f = await controlFixture({ extraYaml: NODES_YAML, join: true, admission: { unauthenticatedMs: 400 } });
  const cp = await f.open();
  const join = JoinAuthority.openOrCreate(f.stateDir);
  const token = (n: string, ttlMs = 60_000) => join.issue(n, new Date(Date.now() + ttlMs));
  const t1 = token("n1");
  const t2 = token("n2");
  const call = (t: string | undefined, path: string, body: unknown) => controlCall(cp.address, f.rootPem, path, t === undefined ? {} : { authorization: `Node ${t}` }, JSON.stringify(body));
  /** A node's configuration stream: every config it has been sent. */
  const stream = (t: string) => {
    const session = connect(`https://${cp.address}`, { ca: f.rootPem, checkServerIdentity: () => undefined });
    session.on("error", () => {});
    const req = session.request({ ":method": "POST", ":path": "/v1/node/stream", authorization: `Node ${t}` });
    const configs: NodeConfig[] = [];
    let buf = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      buf += c;
      for (let nl; (nl = buf.indexOf("\n")) >= 0; buf = buf.slice(nl + 1)) configs.push(JSON.parse(buf.slice(0, nl)) as NodeConfig);
    });
    req.on("error", () => {});
    req.end();
    return { configs, close: () => session.destroy(), session };
  };
  try {
    // Unjoined, or without a valid credential: nothing.
    assert.equal((await call(t1, "/v1/node/bootstrap", { workload: "n/on-n1" })).status, 403, "a node that has not joined");
    for (const bad of [undefined, "x.y", token("n1", -1000), new JoinAuthority(new (await import("../ca/signed-token.js")).SignedTokens(Buffer.alloc(32, 7))).issue("n1", new Date(Date.now() + 60_000))]) {
      const r = await call(bad, "/v1/node/stream", {});
      assert.equal(r.status, 403, String(bad));
      assert.match(r.body, /ZM_NODE_REJECTED/);
    }

    const n1 = stream(t1);
    await waitUntil(() => n1.configs.length > 0, 5000);
    const c1 = n1.configs[0]!;
    assert.deepEqual(c1.node, { name: "n1", podCidr: "10.244.128.0/24" });
    assert.deepEqual(c1.routes, []);
    const kinds = new Set((c1.manifests as { kind: string }[]).map((m) => m.kind));
    assert.ok(kinds.has("Deployment") && kinds.has("Service") && kinds.has("Namespace"));
    assert.ok(!kinds.has("Secret") && !kinds.has("AuthorizationPolicy"), "a node is sent what it runs pods from, no more");
    const deployment = (c: NodeConfig, name: string) => JSON.stringify((c.manifests as { metadata: { name: string } }[]).find((m) => m.metadata.name === name));
    assert.match(deployment(c1, "on-n1"), /--secret-flag/, "its own workloads whole");
    assert.doesNotMatch(deployment(c1, "on-n2"), /secret-flag/, "another node's workloads without their commands");
    assert.match(deployment(c1, "on-n2"), /"containerPort":8080.*"nodeName":"n2"|"nodeName":"n2".*"containerPort":8080/);

    const n2 = stream(t2);
    await waitUntil(() => n2.configs.length > 0 && n1.configs.at(-1)!.routes.length === 1, 5000);
    assert.deepEqual(n1.configs.at(-1)!.routes, [{ cidr: "10.244.129.0/24", via: "127.0.0.1" }], "n1 learns how to reach n2's pods");

    // Identities only for the node's own workloads.
    const own = await call(t1, "/v1/node/bootstrap", { workload: "n/on-n1" });
    assert.equal(own.status, 200, own.body);
    assert.ok((JSON.parse(own.body) as { token: string }).token);
    const impostor = await call(t1, "/v1/node/bootstrap", { workload: "istio-system/impostor" });
    assert.equal(impostor.status, 403, "no workload gets the control plane's identity");
    assert.match(impostor.body, /control plane's own identity/);
    for (const other of ["n/on-n2", "a/client"]) {
      const r = await call(t1, "/v1/node/bootstrap", { workload: other });
      assert.equal(r.status, 403, other);
      assert.match(r.body, /is not assigned to node n1/);
    }
    // Pod addresses and endpoints only inside its own CIDR, only for its own workloads.
    assert.equal((await call(t1, "/v1/node/pod", { workload: "n/on-n1", ip: "10.244.129.5" })).status, 403, "an address in n2's CIDR");
    assert.equal((await call(t1, "/v1/node/pod", { workload: "n/on-n2", ip: "10.244.128.5" })).status, 403, "another node's workload");
    for (const ip of ["10.244.128.0", "10.244.128.1", "10.244.128.255"]) assert.equal((await call(t1, "/v1/node/pod", { workload: "n/on-n1", ip })).status, 403, `${ip}: not a pod's address`);
    assert.equal((await call(t1, "/v1/node/pod", { workload: "n/on-n1", ip: "10.244.128.5" })).status, 200);
    assert.equal((await call(t1, "/v1/node/endpoints", { workload: "n/plain", listeners: { 9000: "10.244.129.5:9000" } })).status, 403);
    assert.equal((await call(t1, "/v1/node/endpoints", { workload: "n/plain", listeners: "x" })).status, 400);
    assert.equal((await call(t1, "/v1/node/endpoints", { workload: "n/plain", listeners: { 9000: "::ffff:10.244.128.6:9000" } })).status, 400, "IPv4 only");
    assert.equal((await call(t1, "/v1/node/endpoints", { workload: "n/on-n1", listeners: { 8080: "10.244.128.5:8080" } })).status, 403, "a sidecar announces its own endpoints");
    assert.equal((await call(t1, "/v1/node/endpoints", { workload: "n/plain", listeners: { 9000: "10.244.128.6:9000" } })).status, 200);
    await waitUntil(() => n2.configs.at(-1)!.endpoints["n/plain"]?.["9000"] === "10.244.128.6:9000", 5000);

    // Joining again on another connection ends the first: one connection per node.
    const dup = stream(t1);
    await waitUntil(() => n1.session.destroyed || n1.session.closed, 5000);
    n1.configs.length = 0;
    Object.assign(n1, dup);

    // Longer than an unauthenticated connection may live: the joined nodes are still there.
    await new Promise((r) => setTimeout(r, 900));
    assert.ok(!n1.session.closed && !n1.session.destroyed, "a joined node's connection is not cut");
    const listed = (await f.admin(cp).call<{ name: string; connected: boolean }[]>("GET", "/v1/nodes")).body;
    assert.deepEqual(listed.map((n) => [n.name, n.connected]), [["n1", true], ["n2", true]]);

    // A credential that expires while its node is joined ends the node's stream: it has left.
    const brief = stream(token("n2", 1500));
    await waitUntil(() => brief.configs.length > 0, 5000);
    await waitUntil(() => brief.session.closed || brief.session.destroyed || f.audits.some((a) => a.event === "node-credential-expired" && a.node === "n2"), 5000);
    await waitUntil(() => f.audits.some((a) => a.event === "node-left" && a.node === "n2"), 5000);
    const n2again = stream(t2);
    await waitUntil(() => n2again.configs.length > 0, 5000);
    Object.assign(n2, n2again);

    // n1 leaves: its endpoints and its route go at once.
    n1.close();
    await waitUntil(() => n2.configs.at(-1)!.endpoints["n/plain"] === undefined && n2.configs.at(-1)!.routes.length === 0, 5000);
    assert.ok(f.audits.some((a) => a.event === "node-left" && a.node === "n1"));
    // Joining again, it gets its CIDR back.
    const again = stream(t1);
    await waitUntil(() => again.configs.length > 0, 5000);
    assert.equal(again.configs[0]!.node.podCidr, "10.244.128.0/24");
    again.close();
    n2.close();
  } finally {
    await f.stop([], cp);
  }
});
