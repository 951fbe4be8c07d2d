// Retries with real sidecars: a retry goes to an endpoint of the destination not tried yet (Envoy's previous-hosts
// predicate, which Istio sets on every route), so one broken replica costs a request nothing when another works.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startApp } from "../app/server.js";
import { send } from "../scenario/client.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";

const ROUTE = (retries: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: b}
spec:
  hosts: [web.b.svc.cluster.local]
  http: [{retries: ${retries}, route: [{destination: {host: web.b.svc.cluster.local}}]}]`;

const started: { stop(): Promise<void> }[] = [];
after(() => Promise.all(started.map((s) => s.stop())));

/** A server that answers every request 503: a replica whose application is failing. */
async function failing(): Promise<{ host: string; port: number; stop(): Promise<void> }> {
  const server = createServer((_req, res) => res.writeHead(503, { "content-type": "text/plain" }).end("failing"));
  const port = await listen(server);
  return { host: "127.0.0.1", port, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A client and two replicas of web: b/web answers, b/web-1's application answers 503 to everything. */
async function mesh(retries: string) {
  const good = await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1");
  const bad = await failing();
  const m = await startMesh({
    yaml: `${meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080, replicas: 2 }])}\n---\n${ROUTE(retries)}`,
    proxies: { "a/client": undefined, "b/web": good, "b/web-1": bad },
  });
  started.push(m, { stop: () => good.close() }, bad);
  const get = () => send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/get", headers: {} }, { proxy: m.outbound("a/client") });
  return { get };
}

/** Statuses of `n` requests in turn (an error outcome counts by its kind). */
async function statuses(get: () => Promise<unknown>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = (await get()) as { kind: string; status?: number; error?: string };
    out.push(o.kind === "response" ? String(o.status) : o.error ?? o.kind);
  }
  return out;
}

test("retries: a retry goes to the replica not tried yet, so every request is answered", async () => {
  // The first attempt lands on either replica (least request between two idle ones draws at random): a retry that
  // went back to the broken one would fail about half of these.
  const { get } = await mesh(`{attempts: 1, retryOn: "5xx"}`);
  const got = await statuses(get, 16);
  assert.deepEqual(got, Array(16).fill("200"));
});

test("retries: without them, the broken replica's share of requests fails (the test above could fail)", async () => {
  const { get } = await mesh("{attempts: 0}");
  const got = await statuses(get, 16);
  assert.ok(got.includes("200"), `some reach the working replica: ${got}`);
  assert.ok(got.some((s) => s !== "200"), `some reach the broken one: ${got}`);
});
