// An outside client at a gateway abuses HTTP/2: as many streams as it likes, rapid reset (HEADERS then
// RST_STREAM, over and over), and an upload read as fast as it comes while the route delays the request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as h2connect, constants, createServer as createH2Server, type ClientHttp2Session } from "node:http2";
import { gatewayYaml, meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";

const GATEWAY = gatewayYaml("edge", "gw", 8083, '[{port: {number: 8083, name: http2, protocol: HTTP2}, hosts: ["*"]}]') + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: edge}
spec:
  hosts: [web.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /delayed}}]
    fault: {delay: {fixedDelay: 2s, percentage: {value: 100}}}
    route: [{destination: {host: web.b.svc.cluster.local, port: {number: 8080}}}]
  - route: [{destination: {host: web.b.svc.cluster.local, port: {number: 8080}}}]
`;
const YAML = meshYaml([{ ns: "edge", name: "unused" }, { ns: "b", name: "web", port: 8080, portName: "http2" }]) + GATEWAY;

/** The application behind the gateway (h2c, as its sidecar speaks to it): /slow answers after 300 ms; bodies are counted. */
async function backend() {
  const seen = { inFlight: 0, maxInFlight: 0 };
  const app = createH2Server((req, res) => {
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => setTimeout(() => {
      seen.inFlight--;
      res.end(`got ${n}`);
    }, req.url?.startsWith("/slow") ? 300 : 0));
    req.on("close", () => void (res.writableEnded || seen.inFlight--));
  });
  const port = await listen(app);
  return { app, port, seen };
}

/** The gateway and web's sidecar in front of a fresh backend; `stop` closes all three. */
async function gatewayToBackend() {
  const b = await backend();
  const m = await startMesh({ yaml: YAML, proxies: { "edge/gw": undefined, "b/web": { host: "127.0.0.1", port: b.port } } });
  const at = m.listener("edge/gw", 8083);
  const stop = async () => {
    await m.stop();
    b.app.close();
  };
  return { seen: b.seen, url: `http://${at.host}:${at.port}`, stop };
}

const get = (c: ClientHttp2Session, path: string) => new Promise<string>((resolve) => {
  const s = c.request({ ":path": path, ":authority": "web.example.com" });
  let status = 0;
  let body = "";
  s.on("response", (h) => (status = Number(h[":status"])));
  s.setEncoding("utf8").on("data", (d: string) => (body += d));
  s.on("end", () => resolve(`${status} ${body}`));
  s.on("error", (e) => resolve(`error ${e.message}`));
});

test("attack: a gateway advertises its HTTP/2 limits and holds at most 100 streams of one client at a time", { timeout: 60_000 }, async () => {
  const g = await gatewayToBackend();
  const c = h2connect(g.url);
  c.on("error", () => {});
  try {
    const settings = await new Promise<{ maxConcurrentStreams?: number; maxHeaderListSize?: number }>((r) => c.once("remoteSettings", r));
    assert.equal(settings.maxConcurrentStreams, 100);
    assert.equal(settings.maxHeaderListSize, 60 * 1024);
    const answers = await Promise.all(Array.from({ length: 300 }, () => get(c, "/slow")));
    assert.deepEqual([...new Set(answers)], ["200 got 0"], "every stream is served, in turn");
    assert.ok(g.seen.maxInFlight <= 100, `the application saw ${g.seen.maxInFlight} of one client's streams at once`);
  } finally {
    c.destroy();
    await g.stop();
  }
});

test("attack: rapid reset closes the abusive client's connection, and other clients' requests on the shared upstream session succeed", { timeout: 60_000 }, async () => {
  const g = await gatewayToBackend();
  const good = h2connect(g.url);
  const evil = h2connect(g.url);
  good.on("error", () => {});
  evil.on("error", () => {});
  try {
    await Promise.all([new Promise((r) => good.once("connect", r)), new Promise((r) => evil.once("connect", r))]);
    const legit = Promise.all(Array.from({ length: 20 }, () => get(good, "/slow")));
    const evilClosed = new Promise<void>((r) => evil.once("close", () => r()));
    let sent = 0;
    for (; sent < 1100 && !evil.closed && !evil.destroyed; sent++) {
      const s = evil.request({ ":path": "/slow", ":authority": "web.example.com" });
      s.on("error", () => {});
      s.close(constants.NGHTTP2_CANCEL);
      if (sent % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await Promise.race([evilClosed, new Promise((r) => setTimeout(r, 5000))]);
    assert.ok(evil.closed || evil.destroyed, `the gateway closed the rapid-reset client (after ${sent} resets)`);
    assert.deepEqual([...new Set(await legit)], ["200 got 0"], "the other client's in-flight requests all succeed");
    // And the shared upstream session is still good for new requests.
    assert.equal(await get(good, "/slow"), "200 got 0");
  } finally {
    good.destroy();
    evil.destroy();
    await g.stop();
  }
});

test("attack: an upload during a route's fault delay is flow-controlled, not buffered, and arrives whole afterwards", { timeout: 60_000 }, async () => {
  const g = await gatewayToBackend();
  const c = h2connect(g.url);
  c.on("error", () => {});
  try {
    const total = 16 * 1024 * 1024;
    const s = c.request({ ":method": "POST", ":path": "/delayed/upload", ":authority": "web.example.com" });
    let status = 0;
    let body = "";
    s.on("response", (h) => (status = Number(h[":status"])));
    s.setEncoding("utf8").on("data", (d: string) => (body += d));
    const done = new Promise<void>((r) => s.on("end", () => r()));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let accepted = 0;
    let acceptedDuringDelay = -1;
    const started = Date.now();
    setTimeout(() => (acceptedDuringDelay = accepted), 1500);
    for (let sent = 0; sent < total; sent += chunk.length) {
      await new Promise<void>((r) => s.write(chunk, () => ((accepted += chunk.length), r())));
    }
    s.end();
    await done;
    assert.ok(Date.now() - started >= 1500, "the delay held the upload");
    assert.ok(acceptedDuringDelay >= 0 && acceptedDuringDelay < 4 * 1024 * 1024, `the gateway took ${acceptedDuringDelay} bytes while the route delayed the request`);
    assert.equal(`${status} ${body}`, `200 got ${total}`, "then the whole body arrives");
  } finally {
    c.destroy();
    await g.stop();
  }
});
