// A compromised workload under ALLOW_ANY uses passthrough to reach the node itself: the control plane's admin
// API, another workload's application port, its own sidecar's outbound port (CONNECT loops). None may get there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connect } from "node:net";
import { hostname } from "node:os";
import { send, type ClientRequest } from "../scenario/client.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";

/**
 * A raw CONNECT through `proxy` to `target`, then a request inside the tunnel: "reached" when the node's secret
 * comes back, else "refused" (the proxy sends 200 first, as it must sniff what the tunnel carries, then resets).
 */
function rawConnect(proxy: { host: string; port: number }, target: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(proxy.port, proxy.host, () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`));
    let got = "";
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => resolve(got.includes("node-local secret") ? "reached" : "refused"));
    setTimeout(() => s.destroy(), 5000);
  });
}

test("attack: ALLOW_ANY passthrough never reaches the node's own addresses, in any notation, by name, or by CONNECT", { timeout: 60_000 }, async () => {
  // Stand-ins for what listens on the node: the control plane's admin API, another workload's application.
  const secret = createServer((_q, s) => s.end("node-local secret"));
  const port = await listen(secret);
  // The same server also stands for a host on the internet, reached by a name the mesh resolves: passthrough works.
  const decisions: string[] = [];
  const m = await startMesh({
    yaml: meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]), proxies: { "a/client": undefined },
    names: { [`outside.example.com:${port}`]: `127.0.0.1:${port}` },
    options: { outboundPort: 15021, logAll: true, log: (e) => void decisions.push(`${e.authority} ${e.decision.code ?? "allowed"} ${e.error ?? ""}`) },
  });
  try {
    const proxy = m.outbound("a/client");
    const get = (host: string): Promise<string> => send({ scheme: "http", host, port, method: "GET", path: "/", headers: {} } as ClientRequest, { proxy }).then((r) => (r.kind === "response" ? `${r.status} ${r.body}` : r.kind === "error" ? r.error : r.kind));
    assert.equal(await get("outside.example.com"), "200 node-local secret", "passthrough reaches a host outside by name");
    for (const host of ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "::1", "app.localhost", hostname()]) {
      decisions.length = 0;
      const r = await get(host);
      assert.ok(!r.includes("node-local secret"), `http://${host}:${port}/ reached the node: ${r}`);
      // Refused by the rule, not by accident (a lookup failing, a timeout): the decision names it, or the lookup guard did.
      assert.ok(decisions.some((d) => d.includes("ZM_DENY_NODE_LOCAL") || d.includes("the node itself")), `${host}: ${r}; decisions ${decisions.join(" | ")}`);
    }
    for (const target of [`127.0.0.1:${port}`, `localhost:${port}`, `0x7f.1:${port}`, `2130706433:${port}`, `[::1]:${port}`, `${proxy.host}:${proxy.port}`]) {
      assert.equal(await rawConnect(proxy, target), "refused", `CONNECT ${target}`);
    }
    // Refused by design, not by a crash: the same proxy still answers, and decides a mesh name as the mesh says.
    const alive = await send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/", headers: {} }, { proxy });
    assert.deepEqual(alive.kind === "response" ? [alive.status, alive.body] : alive, [503, "no healthy upstream"]);
  } finally {
    await m.stop();
    secret.close();
  }
});
