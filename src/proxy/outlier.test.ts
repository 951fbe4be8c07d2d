// Outlier detection with real sidecars: a replica that keeps failing is ejected and
// the client's sidecar stops sending it requests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { buildProxyConfig } from "../control/proxy-config.js";
import { Registry } from "../registry/registry.js";
import { send } from "../scenario/client.js";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import { listen } from "../testing/net.js";
import { Sidecar } from "./sidecar.js";

const BASE = meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080, replicas: 2 }]);
const dr = (outlier: string) => `\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: b}\nspec:\n  host: web.b.svc.cluster.local\n  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}${outlier}`;

async function run(yaml: string): Promise<{ statuses: number[]; badHits: number }> {
  const ca = await CertificateAuthority.open({ stateDir: mkdtempSync(join(tmpdir(), "zm-od-")), workloadTtlMs: 3_600_000 });
  const snap = snapshotOf(yaml);
  const reg = Registry.of(snap);
  let badHits = 0;
  const bad = createServer((_q, s) => void (badHits++, s.writeHead(503).end("overloaded")));
  const good = createServer((_q, s) => void s.end("ok"));
  const apps = { "b/web": await listen(bad), "b/web-1": await listen(good) };
  const sidecars: Sidecar[] = [];
  try {
    for (const id of ["a/client", "b/web", "b/web-1"]) {
      const w = reg.workload(id)!;
      const ports = reg.workloadPorts(w);
      const app = apps[id as keyof typeof apps];
      const sc = new Sidecar({ id, address: w.address, ports, outboundPort: 15007, apps: Object.fromEntries(ports.map((p) => [p, { host: "127.0.0.1", port: app ?? 0 }])) });
      const { csrPem, keyPem } = await createCsr(w.spiffe);
      sc.setCredentials({ ...(await ca.sign(csrPem, w.spiffe)), keyPem });
      await sc.start();
      sidecars.push(sc);
    }
    const endpoints = Object.fromEntries(sidecars.map((s) => [s.id, s.listeners]));
    for (const sc of sidecars) assert.equal(sc.applyConfig(buildProxyConfig(snap, reg.workload(sc.id)!, 1, endpoints, {})).ack, true);
    const [host, port] = sidecars[0]!.outboundAddress.split(":");
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/", headers: {} }, { proxy: { host: host!, port: Number(port) } });
      statuses.push(r.kind === "response" ? r.status : 0);
    }
    return { statuses, badHits };
  } finally {
    await Promise.all(sidecars.map((s) => s.stop()));
    bad.close();
    good.close();
  }
}

test("outlier detection: a replica answering 503 is ejected after consecutive5xxErrors and gets no more requests", async () => {
  const withOd = await run(BASE + dr("\n    outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 60s, maxEjectionPercent: 100}"));
  // Round robin sends every other request to the failing replica; Istio's default retry takes it to the other one.
  assert.deepEqual(withOd.statuses, Array(10).fill(200));
  assert.equal(withOd.badHits, 2, "ejected after its second 503 in a row");
  const without = await run(BASE + dr(""));
  assert.deepEqual(without.statuses, Array(10).fill(200));
  assert.equal(without.badHits, 5, "without outlier detection it keeps its turn");
});
