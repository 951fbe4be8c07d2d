// Finding 4: under ALLOW_ANY every distinct destination got an upstream pool
// of its own, never evicted, so a workload calling many hosts grew its
// sidecar's memory for good. Pools are now capped (least recently used idle
// ones closed) and closed when idle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { send } from "../scenario/client.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";

const DESTINATIONS = 200;
const MAX_POOLS = 16;

test("upstream pools: requests to many distinct destinations through a sidecar keep the number of pools bounded", { timeout: 60_000 }, async () => {
  const servers: Server[] = [];
  for (let i = 0; i < DESTINATIONS; i++) servers.push(createServer((_q, s) => void s.end("ok")));
  const ports = await Promise.all(servers.map((s) => listen(s)));
  // Distinct hosts outside the registry, each resolved by name (passthrough never goes to the node's own addresses).
  const names = Object.fromEntries(ports.map((port, i) => [`host-${i}.example.com:80`, `127.0.0.1:${port}`]));
  const m = await startMesh({ yaml: meshYaml([{ ns: "a", name: "client" }]), proxies: { "a/client": undefined }, names, options: { outboundPort: 15012, pools: { max: MAX_POOLS } } });
  try {
    let peak = 0;
    for (let i = 0; i < ports.length; i++) {
      const r = await send({ scheme: "http", host: `host-${i}.example.com`, port: 80, method: "GET", path: "/", headers: {} }, { proxy: m.outbound("a/client") });
      assert.equal(r.kind === "response" && r.status, 200, JSON.stringify(r));
      peak = Math.max(peak, m.sidecars["a/client"]!.pools.size);
    }
    assert.ok(peak <= MAX_POOLS, `the sidecar held ${peak} pools for ${DESTINATIONS} destinations (cap ${MAX_POOLS})`);
  } finally {
    await m.stop();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  }
});
