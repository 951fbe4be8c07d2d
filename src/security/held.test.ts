// What held when the mesh was first attacked, kept as tests so it keeps holding: request smuggling at the gateway
// (CL+TE, two Content-Length, TE "chunked, identity", obs-fold, bare LF), pipelining, Upgrade: h2c, 64 KiB
// headers, and malformed handshakes and prefaces on every port — sent as raw bytes, as no client library would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { gatewayYaml, meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen, rawExchange } from "../testing/net.js";

const YAML = meshYaml([{ ns: "edge", name: "unused" }, { ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]) +
  gatewayYaml("edge", "gw", 8084, '[{port: {number: 8084, name: http, protocol: HTTP}, hosts: ["*"]}]') + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: edge}
spec: {hosts: [web.example.com], gateways: [gw], http: [{route: [{destination: {host: web.b.svc.cluster.local, port: {number: 8080}}}]}]}
`;

const statuses = (answer: string) => [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

test("held: smuggling, pipelining, h2c upgrade and oversized headers at a gateway never reach the application as a second request", { timeout: 60_000 }, async () => {
  const seen: string[] = [];
  const app = createServer((q, s) => {
    seen.push(`${q.method} ${q.url}`);
    q.resume();
    q.on("end", () => s.end("ok"));
  });
  const port = await listen(app);
  const m = await startMesh({ yaml: YAML, proxies: { "edge/gw": undefined, "b/web": { host: "127.0.0.1", port } } });
  const gw = m.listener("edge/gw", 8084);
  const H = "Host: web.example.com\r\n";
  const smuggled = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;
  try {
    const attempts: [string, string][] = [
      ["CL+TE", `POST /a HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`],
      ["two Content-Length", `POST /a HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`],
      ["TE: chunked, identity", `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`],
      ["obs-fold", `POST /a HTTP/1.1\r\n${H}X-Folded: a\r\n Content-Length: ${smuggled.length}\r\nContent-Length: 0\r\n\r\n${smuggled}`],
      ["bare LF", `POST /a HTTP/1.1\n${H.replace("\r\n", "\n")}Content-Length: 0\nTransfer-Encoding: chunked\n\n0\n\n${smuggled}`],
    ];
    for (const [what, bytes] of attempts) {
      const answer = await rawExchange(gw, bytes);
      assert.ok(!seen.includes("GET /smuggled"), `${what}: the application saw a smuggled request (gateway answered ${statuses(answer).join(",") || "nothing"})`);
      assert.ok(statuses(answer).every((s) => s === 400 || s === 200), `${what}: ${answer.split("\r\n")[0]}`);
      assert.ok(statuses(answer).length <= 1, `${what}: one request, one answer at most`);
    }
    // Pipelining is HTTP/1.1: two requests in one write are two requests, answered in order.
    assert.deepEqual(statuses(await rawExchange(gw, `GET /one HTTP/1.1\r\n${H}\r\nGET /two HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)), [200, 200]);
    assert.deepEqual(seen.slice(-2), ["GET /one", "GET /two"]);
    // Upgrade: h2c is not honoured (no 101): the request is answered as HTTP/1.1.
    const upgrade = await rawExchange(gw, `GET /up HTTP/1.1\r\n${H}Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`);
    assert.doesNotMatch(upgrade, /^HTTP\/1\.1 101/);
    // 64 KiB of headers: 431, and the gateway goes on serving.
    assert.match(await rawExchange(gw, `GET /big HTTP/1.1\r\n${H}X-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`), /^HTTP\/1\.1 431/);
    assert.deepEqual(statuses(await rawExchange(gw, `GET /after HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)), [200]);
  } finally {
    await m.stop();
    app.close();
  }
});

test("held: malformed handshakes and prefaces on every port of a gateway and a sidecar leave both serving", { timeout: 90_000 }, async () => {
  const app = createServer((_q, s) => s.end("ok"));
  const port = await listen(app);
  const m = await startMesh({ yaml: YAML, proxies: { "edge/gw": undefined, "a/client": undefined, "b/web": { host: "127.0.0.1", port } }, options: { outboundPort: 15051 } });
  const targets = [m.listener("edge/gw", 8084), m.listener("b/web", 8080), m.outbound("a/client")];
  // A TLS record header claiming a ClientHello then garbage, an HTTP/2 preface then garbage, half a preface, random bytes,
  // a ClientHello with an absurd length, a NUL flood.
  const garbage = (i: number): Buffer => [
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01, ...Array.from({ length: 64 }, (_, k) => (k * 7 + i) & 255)]),
    Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from(Array.from({ length: 32 }, (_, k) => (k * 13 + i) & 255))]),
    Buffer.from("PRI * HTTP/2.0\r\n"),
    Buffer.from(Array.from({ length: 200 }, (_, k) => (k * 31 + i * 17) & 255)),
    Buffer.from([0x16, 0x03, 0x03, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff]),
    Buffer.alloc(4096, 0),
  ][i % 6]!;
  try {
    for (const at of targets) await Promise.all(Array.from({ length: 150 }, (_, i) => rawExchange(at, garbage(i))));
    const answer = await rawExchange(m.listener("edge/gw", 8084), "GET / HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statuses(answer), [200], "the gateway still serves");
    const viaSidecar = await rawExchange(m.outbound("a/client"), "GET http://web.b:8080/ HTTP/1.1\r\nHost: web.b:8080\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statuses(viaSidecar), [200], "the sidecars still serve");
  } finally {
    await m.stop();
    app.close();
  }
});
