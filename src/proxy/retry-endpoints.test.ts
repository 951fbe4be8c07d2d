// Retries with real sidecars: a retry goes to an endpoint of the destination not tried yet (Envoy's previous-hosts
// predicate, which Istio sets on every route), so one broken replica costs a request nothing when another works.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type RunningApp } from "../app/server.js";
import { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { buildProxyConfig } from "../control/proxy-config.js";
import type { EndpointTable } from "../wire/protocol.js";
import { Registry } from "../registry/registry.js";
import { send } from "../scenario/client.js";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import { Sidecar } from "./sidecar.js";
import { createServer } from "node:http";
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
async function failing(): Promise<RunningApp> {
  const server = createServer((_req, res) => res.writeHead(503, { "content-type": "text/plain" }).end("failing"));
  const port = await listen(server);
  return { host: "127.0.0.1", port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A client and two replicas of web: b/web answers, b/web-1's application answers 503 to everything. */
async function mesh(retries: string) {
  const snap = snapshotOf(`${meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080, replicas: 2 }])}\n---\n${ROUTE(retries)}`);
  const reg = Registry.of(snap);
  const ca = await CertificateAuthority.open({ stateDir: mkdtempSync(join(tmpdir(), "zm-retry-")), workloadTtlMs: 3_600_000 });
  const apps: Record<string, RunningApp> = {
    "b/web": await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1"),
    "b/web-1": await failing(),
  };
  for (const a of Object.values(apps)) started.push({ stop: () => a.close() });
  const sidecars: Record<string, Sidecar> = {};
  for (const id of ["a/client", "b/web", "b/web-1"]) {
    const w = reg.workload(id)!;
    const ports = reg.workloadPorts(w);
    const app = apps[id] && { host: "127.0.0.1", port: apps[id]!.port };
    const sc = new Sidecar({ id, address: w.address, ports, apps: Object.fromEntries(ports.map((p) => [p, app])) });
    const { csrPem, keyPem } = await createCsr(w.spiffe);
    sc.setCredentials({ ...(await ca.sign(csrPem, w.spiffe)), keyPem });
    await sc.start();
    started.push(sc);
    sidecars[id] = sc;
  }
  const endpoints: EndpointTable = Object.fromEntries(Object.entries(sidecars).map(([id, s]) => [id, s.listeners]));
  for (const [id, sc] of Object.entries(sidecars)) assert.deepEqual(sc.applyConfig(buildProxyConfig(snap, reg.workload(id)!, 1, endpoints, {})), { ack: true, version: 1 });
  const [host, port] = sidecars["a/client"]!.outboundAddress.split(":");
  const get = () => send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/get", headers: {} }, { proxy: { host: host!, port: Number(port) } });
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
