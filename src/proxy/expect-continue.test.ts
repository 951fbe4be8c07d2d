// `Expect: 100-continue` (curl sends it with any upload over 1 MB): the proxy answers 100 Continue itself and
// sends the body on, at a gateway and through sidecars, as Envoy does by default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connect } from "node:net";
import { gatewayYaml, meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";

const GATEWAY = gatewayYaml("edge", "gw", 8081, '[{port: {number: 8081, name: http, protocol: HTTP}, hosts: ["*"]}]') + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: up, namespace: edge}
spec: {hosts: [up.example.com], gateways: [gw], http: [{route: [{destination: {host: web.b.svc.cluster.local, port: {number: 8080}}}]}]}
`;

/** An upload as curl sends it: headers with Expect, the body only after 100 Continue; the final status line and body. */
function upload(at: { host: string; port: number }, target: string, host: string, size: number): Promise<{ continued: boolean; final: string }> {
  return new Promise((resolve) => {
    const s = connect(at.port, at.host, () => s.write(`POST ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`));
    let got = "";
    let continued = false;
    s.on("data", (d) => {
      got += d.toString("latin1");
      if (!continued && got.startsWith("HTTP/1.1 100")) {
        continued = true;
        got = got.slice(got.indexOf("\r\n\r\n") + 4);
        s.write(Buffer.alloc(size, 0x61));
      }
    });
    s.on("error", () => {});
    s.on("close", () => resolve({ continued, final: `${got.split("\r\n")[0]} ${got.slice(got.indexOf("\r\n\r\n") + 4)}` }));
    setTimeout(() => s.destroy(), 15_000);
  });
}

test("Expect: 100-continue uploads go through a gateway and sidecars", { timeout: 60_000 }, async () => {
  const app = createServer((req, res) => {
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => res.end(`got ${n} bytes, expect ${req.headers.expect ?? "none"}`));
  });
  const port = await listen(app);
  const yaml = meshYaml([{ ns: "edge", name: "unused" }, { ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]) + GATEWAY;
  const m = await startMesh({ yaml, proxies: { "edge/gw": undefined, "a/client": undefined, "b/web": { host: "127.0.0.1", port } }, options: { outboundPort: 15031 } });
  const size = 2 * 1024 * 1024;
  try {
    const viaGateway = await upload(m.listener("edge/gw", 8081), "/upload", "up.example.com", size);
    assert.deepEqual(viaGateway, { continued: true, final: `HTTP/1.1 200 OK got ${size} bytes, expect none` });
    const viaSidecars = await upload(m.outbound("a/client"), "http://web.b:8080/upload", "web.b:8080", size);
    assert.deepEqual(viaSidecars, { continued: true, final: `HTTP/1.1 200 OK got ${size} bytes, expect none` });
  } finally {
    await m.stop();
    app.close();
  }
});
