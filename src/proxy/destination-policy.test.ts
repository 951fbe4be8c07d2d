// DestinationRule traffic policies with real sidecars: outlier detection ejects a failing
// replica; a connection pool's limits overflow (Envoy's circuit breakers).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type RequestListener } from "node:http";
import { send } from "../scenario/client.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";

type Outcome = Awaited<ReturnType<typeof send>>;

const dr = (policy: string) => `\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: b}\nspec:\n  host: web.b.svc.cluster.local\n  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}${policy}`;

/** a/client and web's replicas (each answered by its own handler), with sidecars configured from `yaml`; runs `body`, then stops all. */
async function withMesh<T>(yaml: string, handlers: Record<string, RequestListener>, body: (call: (path?: string) => Promise<Outcome>) => Promise<T>): Promise<T> {
  const servers = Object.entries(handlers).map(([id, h]) => [id, createServer(h)] as const);
  const apps: Record<string, { host: string; port: number }> = {};
  for (const [id, s] of servers) apps[id] = { host: "127.0.0.1", port: await listen(s) };
  const m = await startMesh({ yaml, proxies: { "a/client": undefined, ...apps }, options: { outboundPort: 15007 } });
  try {
    return await body((path = "/") => send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path, headers: {} }, { proxy: m.outbound("a/client") }));
  } finally {
    await m.stop();
    for (const [, s] of servers) s.close();
  }
}

const status = (r: Outcome) => (r.kind === "response" ? r.status : 0);

test("outlier detection: a replica answering 503 is ejected after consecutive5xxErrors and gets no more requests", async () => {
  const TWO = meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080, replicas: 2 }]);
  const tenCalls = async (policy: string) => {
    let badHits = 0;
    const statuses = await withMesh(TWO + dr(policy), {
      "b/web": (_q, s) => void (badHits++, s.writeHead(503).end("overloaded")),
      "b/web-1": (_q, s) => void s.end("ok"),
    }, async (call) => {
      const out: number[] = [];
      for (let i = 0; i < 10; i++) out.push(status(await call()));
      return out;
    });
    return { statuses, badHits };
  };
  const withOd = await tenCalls("\n    outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 60s, maxEjectionPercent: 100}");
  // Round robin sends every other request to the failing replica; Istio's default retry takes it to the other one.
  assert.deepEqual(withOd.statuses, Array(10).fill(200));
  assert.equal(withOd.badHits, 2, "ejected after its second 503 in a row");
  const without = await tenCalls("");
  assert.deepEqual(without.statuses, Array(10).fill(200));
  assert.equal(without.badHits, 5, "without outlier detection it keeps its turn");
});

test("connection pool: beyond maxConnections plus http1MaxPendingRequests in flight, requests overflow with 503 and are not sent", async () => {
  const ONE = meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]);
  // The application holds requests until released, so what is in flight stays in flight.
  const held: (() => void)[] = [];
  let arrived = 0;
  let released = false;
  const policy = "\n    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}";
  await withMesh(ONE + dr(policy), { "b/web": (_q, s) => void (arrived++, released ? s.end("ok") : held.push(() => s.end("ok"))) }, async (call) => {
    const first = [call("/1"), call("/2")];
    while (arrived < 2) await new Promise((r) => setTimeout(r, 10));
    const over = await Promise.all([call("/3"), call("/4")]);
    for (const r of over) {
      assert.deepEqual(r.kind === "response" && [r.status, r.body, r.headers?.["x-envoy-overloaded"]], [503, "upstream connect error or disconnect/reset before headers. reset reason: overflow", "true"]);
    }
    assert.equal(arrived, 2, "the overflowing requests never reached the application");
    released = true;
    held.forEach((f) => f());
    assert.deepEqual((await Promise.all(first)).map(status), [200, 200]);
    assert.equal(status(await call("/5")), 200, "room again once they are done");
  });
});
