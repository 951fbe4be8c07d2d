// An outside client at a TLS gateway: renegotiation on demand (a handshake at the client's will), and a
// ClientHello with two server_name extensions (route by one name, be served under the other).
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect, createServer as netServer, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createRoot, issueLeaf } from "../ca/x509.js";
import { gatewayYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** A gateway with a SIMPLE server (shop.example.com) and a PASSTHROUGH one (pass.example.com, to a raw backend that counts connections). */
async function gatewayMesh() {
  const backend = { connections: 0 };
  const raw = netServer((s) => {
    backend.connections++;
    s.destroy();
  });
  const backendPort = await listen(raw);
  const validity = { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000) };
  const root = await createRoot("test CA", validity);
  const leaf = await issueLeaf(root, { commonName: "shop.example.com", dnsNames: ["shop.example.com", "admin.example.com"], validity });
  const servers = "\n  - {port: {number: 8443, name: https, protocol: HTTPS}, hosts: [shop.example.com], tls: {mode: SIMPLE, credentialName: shop-credential}}\n  - {port: {number: 8443, name: https-admin, protocol: HTTPS}, hosts: [admin.example.com], tls: {mode: MUTUAL, credentialName: shop-credential}}\n  - {port: {number: 8443, name: tls, protocol: TLS}, hosts: [pass.example.com], tls: {mode: PASSTHROUGH}}";
  const yaml = `apiVersion: v1
kind: Namespace
metadata: {name: edge}
${gatewayYaml("edge", "gw", 8443, servers)}---
apiVersion: v1
kind: Secret
metadata: {name: shop-credential, namespace: edge}
type: kubernetes.io/tls
data: {tls.crt: ${b64(leaf.certPem)}, tls.key: ${b64(leaf.keyPem)}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: edge}
spec:
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec: {containers: [{name: b, image: b, ports: [{containerPort: 9443}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: edge}
spec: {selector: {app: backend}, ports: [{name: tls, port: 9443}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pass, namespace: edge}
spec:
  hosts: [pass.example.com]
  gateways: [gw]
  tls: [{match: [{sniHosts: [pass.example.com]}], route: [{destination: {host: backend.edge.svc.cluster.local, port: {number: 9443}}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pages, namespace: edge}
spec:
  hosts: [shop.example.com, admin.example.com]
  gateways: [gw]
  http: [{match: [{authority: {exact: admin.example.com}}], directResponse: {status: 200, body: {string: "admin pages"}}}, {directResponse: {status: 200, body: {string: "shop pages"}}}]
`;
  const m = await startMesh({ yaml, proxies: { "edge/gw": undefined }, direct: { "edge/backend": { "9443": `127.0.0.1:${backendPort}` } } });
  const stop = async () => {
    await m.stop();
    raw.close();
  };
  return { m: { stop }, at: m.listener("edge/gw", 8443), rootPem: root.certPem, backend };
}

/** A real client's first TLS record (its ClientHello), captured on a socket of our own. */
async function capturedHello(servername: string): Promise<Buffer> {
  let done!: (b: Buffer) => void;
  const got = new Promise<Buffer>((r) => (done = r));
  const srv = netServer((s) => s.once("data", (d: Buffer) => (done(d), s.destroy())));
  const port = await listen(srv);
  const c = tlsConnect({ host: "127.0.0.1", port, servername, maxVersion: "TLSv1.2", rejectUnauthorized: false });
  c.on("error", () => {});
  const hello = await got;
  srv.close();
  return hello;
}

/** The same ClientHello with a second server_name extension appended (lengths mended). */
function withSecondSni(hello: Buffer, name: string): Buffer {
  const n = Buffer.from(name);
  const ext = Buffer.alloc(9 + n.length);
  ext.writeUInt16BE(0, 0);
  ext.writeUInt16BE(5 + n.length, 2);
  ext.writeUInt16BE(3 + n.length, 4);
  ext.writeUInt8(0, 6);
  ext.writeUInt16BE(n.length, 7);
  n.copy(ext, 9);
  // record(5) handshake header(4) version(2) random(32) session id, cipher suites, compression, then extensions
  let o = 5 + 4 + 2 + 32;
  o += 1 + hello[o]!;
  o += 2 + hello.readUInt16BE(o);
  o += 1 + hello[o]!;
  const out = Buffer.concat([hello, ext]);
  out.writeUInt16BE(hello.readUInt16BE(o) + ext.length, o);
  out.writeUInt16BE(hello.readUInt16BE(3) + ext.length, 3);
  out.writeUIntBE(hello.readUIntBE(6, 3) + ext.length, 6, 3);
  return out;
}

/** What the server sends back to raw bytes: "server-hello", "alert", or "closed" with nothing. */
function answerTo(at: { host: string; port: number }, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s: Socket = netConnect(at.port, at.host, () => s.write(bytes));
    let got = Buffer.alloc(0);
    const done = () => resolve(got.length === 0 ? "closed" : got[0] === 0x15 ? "alert" : got[0] === 0x16 && got[5] === 0x02 ? "server-hello" : `bytes ${got.subarray(0, 6).toString("hex")}`);
    s.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 6) s.destroy();
    });
    s.on("error", () => {});
    s.on("close", done);
    setTimeout(() => s.destroy(), 5000);
  });
}

test("attack: a ClientHello with two server_name extensions is refused, never routed by either", { timeout: 30_000 }, async () => {
  const { m, at, backend } = await gatewayMesh();
  try {
    const hello = await capturedHello("shop.example.com");
    assert.equal(await answerTo(at, hello), "server-hello", "the same hello with one name is served");
    for (const second of ["shop.example.com", "other.example.com", "pass.example.com"]) {
      const answer = await answerTo(at, withSecondSni(hello, second));
      assert.ok(answer === "alert" || answer === "closed", `a second server_name ${second}: ${answer}`);
    }
    // PASSTHROUGH: the gateway routes by SNI without terminating, so only the gateway can refuse.
    const pass = await capturedHello("pass.example.com");
    await answerTo(at, pass);
    assert.equal(backend.connections, 1, "one name: passed through to the backend");
    for (const second of ["pass.example.com", "shop.example.com"]) await answerTo(at, withSecondSni(await capturedHello("shop.example.com"), second));
    await answerTo(at, withSecondSni(pass, "other.example.com"));
    assert.equal(backend.connections, 1, "two names: nothing reaches the backend");
  } finally {
    await m.stop();
  }
});

test("attack: client-initiated renegotiation is refused", { timeout: 30_000 }, async () => {
  const { m, at, rootPem } = await gatewayMesh();
  try {
    const outcome = await new Promise<string>((resolve) => {
      const c = tlsConnect({ host: at.host, port: at.port, servername: "shop.example.com", ca: rootPem, maxVersion: "TLSv1.2" }, () => {
        const ok = c.renegotiate({ rejectUnauthorized: true }, (err) => resolve(err ? `refused: ${err.message}` : "renegotiated"));
        if (!ok) resolve("refused before it started");
      });
      c.on("error", (e) => resolve(`refused: ${e.message}`));
      c.on("close", () => resolve("refused: closed"));
      setTimeout(() => resolve("refused: no answer"), 5000);
    });
    assert.match(outcome, /^refused/, outcome);
  } finally {
    await m.stop();
  }
});

test("attack: the SNI of one gateway server with the Host of another does not reach the other's routes (MUTUAL admin behind SIMPLE shop)", { timeout: 30_000 }, async () => {
  const { m, at, rootPem } = await gatewayMesh();
  const get = (servername: string, host: string) => new Promise<string>((resolve) => {
    const c = tlsConnect({ host: at.host, port: at.port, servername, ca: rootPem }, () => c.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    let got = "";
    c.on("data", (d) => (got += d));
    c.on("error", () => {});
    c.on("close", () => resolve(`${got.split("\r\n")[0]} ${got.slice(got.indexOf("\r\n\r\n") + 4)}`.trim()));
    setTimeout(() => c.destroy(), 5000);
  });
  try {
    const shop = await get("shop.example.com", "shop.example.com");
    assert.match(shop, /^HTTP\/1\.1 200 OK/);
    assert.ok(shop.includes("shop pages"), shop);
    // admin.example.com needs a client certificate (MUTUAL); naming shop in SNI must not get around that.
    const smuggled = await get("shop.example.com", "admin.example.com");
    assert.doesNotMatch(smuggled, /admin pages/, smuggled);
    assert.match(smuggled, /^HTTP\/1\.1 404/);
  } finally {
    await m.stop();
  }
});
