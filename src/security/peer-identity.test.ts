// A compromised workload with a valid mesh certificate stands in for another service, on every client path a
// proxy has (HTTP/1.1 pool, HTTP/2 session, raw TCP, a gateway's hop); and certificates past their expiry are
// refused both ways. Each path is shown to accept the right peer too, so a refusal means the check, not a break.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as h2connect, createServer as createH2Server } from "node:http2";
import { createServer as createH1Server, request as httpRequest, type IncomingMessage } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { send } from "../scenario/client.js";
import { gatewayYaml, meshYaml } from "../testing/helpers.js";
import { issueFrom, startMesh, type RunningMesh } from "../testing/mesh.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listen } from "../testing/net.js";
import { MESH_ALPN } from "../proxy/sniff.js";
import { SNIFF_TIMEOUT_MS, httpKind, peek } from "../net/peek.js";

const WEB = "spiffe://cluster.local/ns/b/sa/web";
const EVIL = "spiffe://cluster.local/ns/b/sa/evil";
const GATEWAY = gatewayYaml("edge", "gw", 8082, '[{port: {number: 8082, name: http, protocol: HTTP}, hosts: ["*"]}]') + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: edge}
spec: {hosts: [web.example.com], gateways: [gw], http: [{route: [{destination: {host: web.b.svc.cluster.local, port: {number: 8080}}}]}]}
`;
const YAML = meshYaml([{ ns: "edge", name: "unused" }, { ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }, { ns: "b", name: "db", port: 5432, portName: "tcp-db", sa: "web" }]) + GATEWAY;

/** A server with mesh mTLS as a sidecar's looks (mesh ALPN, client certificates from the mesh), whose certificate we choose. */
async function impostor(caDir: string, spiffe: string, ttlMs?: number) {
  const creds = await issueFrom(caDir, spiffe, ttlMs);
  const h1 = createH1Server((_q, s) => s.end("impostor"));
  const h2 = createH2Server((_q, s) => s.end("impostor"));
  // What the mesh hop carries is sniffed without consuming it (HTTP/2's server reads the socket's own handle), as a sidecar does.
  const tls = createTlsServer({ cert: creds.certPem + creds.chainPem, key: creds.keyPem, ca: creds.rootPem, requestCert: true, ALPNProtocols: [MESH_ALPN] }, (s: TLSSocket) => {
    void peek(s, httpKind, { afterMs: SNIFF_TIMEOUT_MS, value: false }).then((kind) => {
      if (kind === "h2") h2.emit("connection", s);
      else if (kind === "h1") h1.emit("connection", s);
      else s.pipe(s); // TCP: echo
      s.resume();
    });
  });
  tls.on("tlsClientError", () => {});
  const port = await listen(tls);
  return { at: `127.0.0.1:${port}`, close: () => tls.close() };
}

/** HTTP/2 through the client sidecar: a CONNECT tunnel, then h2c prior knowledge inside it. */
function h2Through(proxy: { host: string; port: number }, authority: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: proxy.host, port: proxy.port, method: "CONNECT", path: authority, agent: false });
    req.once("connect", (_res: IncomingMessage, socket: Socket) => {
      const session = h2connect(`http://${authority}`, { createConnection: () => socket });
      session.on("error", () => resolve("error"));
      const s = session.request({ ":path": "/" });
      let body = "";
      let status = 0;
      s.on("response", (h) => (status = Number(h[":status"])));
      s.setEncoding("utf8").on("data", (c: string) => (body += c));
      s.on("end", () => (session.close(), resolve(`${status} ${body}`)));
      s.on("error", () => resolve("reset"));
    });
    req.once("error", () => resolve("error"));
    req.end();
    setTimeout(() => resolve("timeout"), 8000);
  });
}

async function allPaths(m: RunningMesh): Promise<Record<string, string>> {
  const proxy = m.outbound("a/client");
  const out = (r: Awaited<ReturnType<typeof send>>) => (r.kind === "response" ? `${r.status} ${r.body}` : r.kind === "echo" ? "echo" : r.kind === "error" ? r.error : r.kind);
  return {
    "http/1.1": out(await send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/", headers: {} }, { proxy })),
    "http/2": await h2Through(proxy, "web.b:8080"),
    tcp: out(await send({ scheme: "tcp", host: "db.b", port: 5432, method: "CONNECT", path: "", headers: {}, send: "ping" }, { proxy })),
    gateway: out(await send({ scheme: "http", host: "web.example.com", port: 8082, method: "GET", path: "/", headers: {} }, { direct: m.listener("edge/gw", 8082) })),
  };
}

test("attack: every client path refuses a peer that is not the destination's identity, or whose certificate expired", { timeout: 90_000 }, async () => {
  const cases: [string, string, number | undefined, boolean][] = [
    ["the destination's own identity (the check passes)", WEB, undefined, true],
    ["another valid identity of the same mesh", EVIL, undefined, false],
    ["the destination's identity, expired", WEB, 1000, false],
  ];
  for (const [what, spiffe, ttl, accepted] of cases) {
    // The impostor stands where web's and db's endpoints are (both run as sa/web), with a certificate of the mesh's CA.
    const caDir = mkdtempSync(join(tmpdir(), "zm-impostor-"));
    const fake = await impostor(caDir, spiffe, ttl);
    const m = await startMesh({ yaml: YAML, caDir, proxies: { "a/client": undefined, "edge/gw": undefined }, direct: { "b/web": { "8080": fake.at }, "b/db": { "5432": fake.at } }, options: { outboundPort: 15041 } });
    try {
      if (ttl) await new Promise((r) => setTimeout(r, ttl + 200));
      const seen = await allPaths(m);
      for (const [path, got] of Object.entries(seen)) {
        if (accepted) assert.ok(got === "200 impostor" || got === "echo", `${what}, ${path}: ${got}`);
        else assert.ok(!got.includes("impostor") && got !== "echo", `${what}, ${path}: reached it (${got})`);
      }
    } finally {
      await m.stop();
      fake.close();
    }
  }
});

test("attack: a client presenting an expired mesh certificate is refused by the server sidecar", { timeout: 30_000 }, async () => {
  const app = createH1Server((_q, s) => s.end("app"));
  const port = await listen(app);
  const m = await startMesh({ yaml: YAML, proxies: { "b/web": { host: "127.0.0.1", port } } });
  const at = m.listener("b/web", 8080);
  const call = (creds: { certPem: string; chainPem: string; keyPem: string; rootPem: string }) => new Promise<string>((resolve) => {
    const s = tlsConnect({ host: at.host, port: at.port, cert: creds.certPem + creds.chainPem, key: creds.keyPem, ca: creds.rootPem, ALPNProtocols: [MESH_ALPN], servername: "outbound_.8080_._.web.b.svc.cluster.local", checkServerIdentity: () => undefined }, () => s.write("GET / HTTP/1.1\r\nHost: web.b\r\nConnection: close\r\n\r\n"));
    let got = "";
    s.on("data", (d) => (got += d));
    s.on("error", () => {});
    s.on("close", () => resolve(got.split("\r\n")[0] || "refused"));
    setTimeout(() => s.destroy(), 5000);
  });
  try {
    assert.equal(await call(await m.issue("spiffe://cluster.local/ns/a/sa/client")), "HTTP/1.1 200 OK", "a current certificate is served");
    const expiring = await m.issue("spiffe://cluster.local/ns/a/sa/client", 1000);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(await call(expiring), "refused", "an expired one is not");
  } finally {
    await m.stop();
    app.close();
  }
});
