// Attacks on the control plane by a local process without credentials, by one holding a stolen or foreign
// certificate, and by a compromised proxy: each must fail, be audited, and leave everyone else served.
import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { connect as h2Connect } from "node:http2";
import { createServer, request as httpRequest } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { createRoot, issueLeaf } from "../ca/x509.js";
import { AdminClient } from "../control/admin-client.js";
import type { ControlPlane } from "../control/server.js";
import { ADMIN_TOKEN_FILE, signAdminRequest } from "../control/admin-credential.js";
import { listen } from "../testing/net.js";
import { ProxyAgent } from "../proxy/agent.js";
import { send } from "../scenario/client.js";
import { controlCall, controlFixture, csrFor, waitUntil } from "../testing/control-plane.js";
import { DEFAULT_MESH } from "../api/mesh.js";
import { parseTexts } from "../store/apply.js";

const WEB = "spiffe://cluster.local/ns/b/sa/web";
const b64 = (s: string) => Buffer.from(s).toString("base64");
/** b/web2 runs as the same service account as b/web; b/gw is a gateway in b (it is handed b's Secrets). */
const EXTRA = `
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web2, namespace: b}
spec:
  selector: {matchLabels: {app: web2}}
  template:
    metadata: {labels: {app: web2}}
    spec: {serviceAccountName: web, containers: [{name: app, image: x, ports: [{containerPort: 8081}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gw, namespace: b}
spec:
  selector: {matchLabels: {gw: b}}
  template:
    metadata: {labels: {gw: b}, annotations: {inject.istio.io/templates: gateway}}
    spec: {containers: [{name: istio-proxy, image: auto, ports: [{containerPort: 8443}]}]}
`;

test("attack: the admin API without the credential reads, changes and bootstraps nothing; with it, no private key is ever shown", { timeout: 60_000 }, async () => {
  const root = await createRoot("gateway certs", { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000) });
  const leaf = await issueLeaf(root, { commonName: "shop.example.com", dnsNames: ["shop.example.com"], validity: { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000) } });
  const secret = `\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: shop-credential, namespace: b}\ntype: kubernetes.io/tls\ndata: {tls.crt: ${b64(leaf.certPem)}, tls.key: ${b64(leaf.keyPem)}}\n`;
  const f = await controlFixture({ extraYaml: EXTRA + secret });
  const cp = await f.open();
  const gwWorkload = f.reg.workload("b/gw")!;
  const gw = new ProxyAgent({ control: cp.address, rootPem: f.rootPem, token: cp.issueBootstrap("b/gw"), spiffe: gwWorkload.spiffe, rotateAt: 0.5, sidecar: { id: "b/gw", address: gwWorkload.address, ports: [8443], apps: {}, gateway: true } });
  try {
    await gw.start();
    await waitUntil(() => cp.synced(["b/gw"]));
    const version = f.store.snapshot().version;
    const calls: [string, "GET" | "POST", string, unknown][] = [
      ["read every Secret", "GET", "/v1/resources?kind=Secret", undefined],
      ["apply a policy", "POST", "/v1/apply", { files: [{ file: "x.yaml", text: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: open, namespace: b}\nspec: {}" }] }],
      ["ask for a bootstrap credential", "POST", "/v1/bootstrap", { workload: "b/web" }],
      ["register an endpoint", "POST", "/v1/endpoints", { workload: "b/web", listeners: { "8080": "127.0.0.1:1" } }],
      ["read a gateway's configuration", "GET", "/v1/proxy-config?proxy=b/gw", undefined],
    ];
    // Callers without the credential: no signature, a bearer guess, a signature over a real challenge with a wrong key.
    const [adminHost, adminPort] = cp.adminAddress.split(":");
    const withHeader = (authorization: () => Promise<string | undefined>) => async (method: string, path: string, body?: unknown) => {
      const text = body === undefined ? "" : JSON.stringify(body);
      const header = await authorization();
      return new Promise<{ status: number; code?: string }>((resolve) => {
        const req = httpRequest({ host: adminHost, port: Number(adminPort), method, path, headers: header ? { authorization: header } : {} }, (r) => {
          let data = "";
          r.on("data", (c) => (data += c));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, code: (JSON.parse(data) as { code?: string }).code }));
        });
        req.end(text);
      });
    };
    const challenge = async () => (await new AdminClient(cp.adminAddress).call<{ challenge: string }>("GET", "/v1/challenge")).body.challenge;
    const callers = [
      withHeader(async () => undefined),
      withHeader(async () => `Bearer ${"0".repeat(64)}`),
      withHeader(async () => `ZM-HMAC c=${await challenge()},m=${"A".repeat(43)}`),
    ];
    for (const caller of callers) {
      for (const [what, method, path, body] of calls) {
        const r = await caller(method, path, body);
        assert.deepEqual(r, { status: 401, code: "ZM_ADMIN_UNAUTHENTICATED" }, `${what} without the credential`);
      }
    }
    await assert.rejects(new AdminClient(cp.adminAddress, "0".repeat(64)).call("GET", "/v1/proxy-status"), /could not prove/, "a client with another credential does not even sign for this control plane");
    assert.equal(f.store.snapshot().version, version, "nothing was applied");
    assert.ok(f.audits.filter((a) => a.event === "admin-refused").length >= 15, "every refusal is audited");
    assert.equal(statSync(join(f.stateDir, ADMIN_TOKEN_FILE)).mode & 0o777, 0o600, "the credential is its owner's alone");

    // The credential never travels: a request is signed over a challenge from the endpoint, which must first prove it
    // holds the credential. A process squatting on the admin port (the control plane restarting) gets nothing.
    const seen: string[] = [];
    const squatter = createServer((q, s) => {
      seen.push(`${q.method} ${q.url} ${q.headers.authorization ?? ""}`);
      s.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ challenge: "A".repeat(32), proof: "B".repeat(43) }));
    });
    const squatPort = await listen(squatter);
    await assert.rejects(new AdminClient(`127.0.0.1:${squatPort}`, f.adminToken).call("GET", "/v1/resources?kind=Secret"), (e) => (e as { code?: string }).code === "ZM_ADMIN_UNAUTHENTICATED" && /could not prove/.test((e as Error).message));
    squatter.close();
    assert.deepEqual(seen, ["GET /v1/challenge "], "the squatter was asked for a challenge, and sent nothing signed, let alone the credential");
    // A signed request is good once: sent again (a replay), it is refused.
    const offered = (await new AdminClient(cp.adminAddress).call<{ challenge: string; proof: string }>("GET", "/v1/challenge")).body;
    const signed = signAdminRequest(f.adminToken, offered, "GET", "/v1/proxy-status", "");
    const once = () => new Promise<number>((resolve) => httpRequest({ host: "127.0.0.1", port: Number(cp.adminAddress.split(":")[1]), path: "/v1/proxy-status", headers: { authorization: signed } }, (r) => (r.resume(), resolve(r.statusCode ?? 0))).end());
    assert.equal(await once(), 200);
    assert.equal(await once(), 401, "a replayed request is refused");

    // The administrator sees certificates, never keys: not in resources, not in a gateway's configuration.
    const admin = f.admin(cp);
    const secrets = await admin.call<{ items: { data: Record<string, string> }[] }>("GET", "/v1/resources?kind=Secret");
    assert.equal(secrets.status, 200);
    assert.equal(secrets.body.items[0]!.data["tls.key"], "[redacted]");
    assert.match(Buffer.from(secrets.body.items[0]!.data["tls.crt"]!, "base64").toString(), /BEGIN CERTIFICATE/);
    const pc = await admin.text("GET", "/v1/proxy-config?proxy=b/gw");
    assert.equal(pc.status, 200);
    assert.ok(pc.body.includes("shop-credential"), "the gateway's configuration holds the Secret");
    assert.ok(!pc.body.includes(b64(leaf.keyPem)) && !pc.body.includes("PRIVATE KEY"), "but not its key");
  } finally {
    await f.stop([gw], cp);
  }
});

test("attack: a bootstrap credential buys one certificate; streams need the instance's own current certificate, also after a restart", { timeout: 60_000 }, async () => {
  const f = await controlFixture({ extraYaml: EXTRA });
  let cp = await f.open();
  try {
    const token = cp.issueBootstrap("b/web");
    assert.ok(f.audits.some((a) => a.event === "bootstrap-issued" && a.workload === "b/web"), "issuing is audited");
    const web = await csrFor(WEB);
    const first = await controlCall(cp.address, f.rootPem, "/v1/certificate", { authorization: `Bearer ${token}` }, web.body);
    assert.equal(first.status, 200);
    const webCert = JSON.parse(first.body) as { certPem: string; chainPem: string };
    const replay = await controlCall(cp.address, f.rootPem, "/v1/certificate", { authorization: `Bearer ${token}` }, (await csrFor(WEB)).body);
    assert.equal(replay.status, 403, "a used credential is spent");
    assert.match(replay.body, /already used/);

    const stream = await controlCall(cp.address, f.rootPem, "/v1/stream", { authorization: `Bearer ${cp.issueBootstrap("b/web")}` }, "");
    assert.equal(stream.status, 403, "a config stream is not opened with a bootstrap credential");

    // b/web2 runs as the same service account: its certificate is valid, for the same SPIFFE identity, but not b/web's.
    const web2 = await csrFor(WEB);
    const web2Cert = JSON.parse((await controlCall(cp.address, f.rootPem, "/v1/certificate", { authorization: `Bearer ${cp.issueBootstrap("b/web2")}` }, web2.body)).body) as { certPem: string; chainPem: string };
    const hijack = await controlCall(cp.address, f.rootPem, "/v1/certificate", { "x-zeromesh-workload": "b/web" }, (await csrFor(WEB)).body, { cert: web2Cert.certPem + web2Cert.chainPem, key: web2.keyPem });
    assert.equal(hijack.status, 403, "another instance's certificate does not speak for b/web");
    assert.match(hijack.body, /not issued to b\/web/);
    const renew = await controlCall(cp.address, f.rootPem, "/v1/certificate", { "x-zeromesh-workload": "b/web" }, (await csrFor(WEB)).body, { cert: webCert.certPem + webCert.chainPem, key: web.keyPem });
    assert.equal(renew.status, 200, "b/web's own certificate renews it");
    assert.ok(f.audits.some((a) => a.event === "proxy-refused" && /not issued to b\/web/.test(String(a.why))), "the attempt is audited");

    // A restarted control plane remembers whose certificates are whose: b/web2's is still not b/web's,
    // and b/web2's own still renews b/web2 (it is not made to bootstrap again).
    const [port, adminPort] = [Number(cp.address.split(":")[1]), Number(cp.adminAddress.split(":")[1])];
    await cp.stop();
    cp = await f.open(port, adminPort);
    const after = await controlCall(cp.address, f.rootPem, "/v1/stream", { "x-zeromesh-workload": "b/web" }, "", { cert: web2Cert.certPem + web2Cert.chainPem, key: web2.keyPem });
    assert.equal(after.status, 403, "after a restart, another instance's certificate still does not speak for b/web");
    const own = await controlCall(cp.address, f.rootPem, "/v1/certificate", { "x-zeromesh-workload": "b/web2" }, (await csrFor(WEB)).body, { cert: web2Cert.certPem + web2Cert.chainPem, key: web2.keyPem });
    assert.equal(own.status, 200, "and each instance's own certificate still renews it");
  } finally {
    await f.stop([], cp);
  }
});

test("attack: the CA renews only this mesh's current certificates of the same identity (foreign CA, expired, other identity)", { timeout: 60_000 }, async () => {
  const f = await controlFixture({ extraYaml: EXTRA });
  const cp = await f.open();
  try {
    const validity = { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000) };
    const foreignRoot = await createRoot("attacker CA", validity);
    const forged = await issueLeaf(foreignRoot, { commonName: "web", uris: [WEB], client: true, validity });
    const expired = await csrFor(WEB);
    const expiredCert = await (await f.ca(1000)).sign(JSON.parse(expired.body).csr, WEB);
    const client = await csrFor("spiffe://cluster.local/ns/a/sa/client");
    const clientCert = await (await f.ca()).sign(JSON.parse(client.body).csr, "spiffe://cluster.local/ns/a/sa/client");
    await new Promise((r) => setTimeout(r, 1200));
    const attempts: [string, { cert: string; key: string }][] = [
      ["a certificate from a foreign CA with b/web's SPIFFE URI", { cert: `${forged.certPem}\n${foreignRoot.certPem}`, key: forged.keyPem }],
      ["an expired mesh certificate of b/web", { cert: expiredCert.certPem + expiredCert.chainPem, key: expired.keyPem }],
      ["a valid mesh certificate of another identity", { cert: clientCert.certPem + clientCert.chainPem, key: client.keyPem }],
    ];
    for (const [what, tls] of attempts) {
      const r = await controlCall(cp.address, f.rootPem, "/v1/certificate", { "x-zeromesh-workload": "b/web" }, (await csrFor(WEB)).body, tls);
      assert.equal(r.status, 403, what);
      assert.doesNotMatch(r.body, /certPem/, `${what}: no certificate`);
    }
    assert.equal(f.audits.filter((a) => a.event === "proxy-refused").length, 3, "each refusal is audited");
    assert.ok(!f.audits.some((a) => a.event === "certificate-issued"), "nothing was issued");
  } finally {
    await f.stop([], cp);
  }
});

test("attack: garbage on a proxy's stream and oversized admin requests close that stream or answer 4xx; the control plane serves on", { timeout: 90_000 }, async () => {
  const f = await controlFixture({ extraYaml: EXTRA });
  const cp = await f.open();
  const web = f.agent("b/web", cp.address, f.rootPem, cp.issueBootstrap("b/web"));
  const client = f.agent("a/client", cp.address, f.rootPem, cp.issueBootstrap("a/client"));
  try {
    await Promise.all([web.start(), client.start()]);
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    // A compromised b/web2 with its own valid certificate opens its stream and sends what the protocol does not allow.
    const key = await csrFor(WEB);
    const cert = JSON.parse((await controlCall(cp.address, f.rootPem, "/v1/certificate", { authorization: `Bearer ${cp.issueBootstrap("b/web2")}` }, key.body)).body) as { certPem: string; chainPem: string };
    const tls = { cert: cert.certPem + cert.chainPem, key: key.keyPem };
    for (const [what, payload] of [["a line that is not JSON", "not json at all\n"], ["a line longer than the limit", "x".repeat(1100 * 1024)], ["a listener on another workload's address", JSON.stringify({ type: "hello", listeners: { "8080": `${f.reg.workload("b/web")!.address}:8080` } }) + "\n"], ["a message of no known type", "{\"type\":\"shutdown\"}\n"], ["a listener on a port no socket has", JSON.stringify({ type: "hello", listeners: { "8081": `${f.reg.workload("b/web2")!.address}:99999` } }) + "\n"]] as const) {
      const before = f.audits.filter((a) => a.event === "proxy-message-rejected").length;
      const r = await controlCall(cp.address, f.rootPem, "/v1/stream", { "x-zeromesh-workload": "b/web2" }, payload, tls);
      assert.equal(r.status, 200, `${what}: the stream was opened`);
      await waitUntil(() => f.audits.filter((a) => a.event === "proxy-message-rejected").length > before, 10_000);
    }
    assert.equal(JSON.stringify(await f.admin(cp).call("GET", "/v1/proxy-config?proxy=b/web").then((r) => r.body)).includes(`"8080":"${f.reg.workload("b/web")!.address}`), true, "b/web's endpoint is still its own");

    // Oversized admin requests are refused before they are read (whoever sends them); malformed ones with the credential.
    const [host, port] = cp.adminAddress.split(":");
    const raw = (head: string, body: Buffer | string) => new Promise<string>((resolve) => {
      const s = netConnect(Number(port), host!, () => {
        s.write(head);
        s.write(body, () => {});
      });
      let got = "";
      s.on("data", (d) => (got += d.toString("latin1")));
      s.on("close", () => resolve(got));
      s.on("error", () => {});
      setTimeout(() => s.destroy(), 10_000);
    });
    const declared = await raw(`POST /v1/apply HTTP/1.1\r\nHost: x\r\nContent-Length: 524288000\r\n\r\n`, Buffer.alloc(1024 * 1024, 0x61));
    assert.match(declared, /^HTTP\/1\.1 413/, "a declared 500 MB body is refused before it is read");
    const chunked = await new Promise<number>((resolve) => {
      const req = httpRequest({ host, port: Number(port), method: "POST", path: "/v1/apply", headers: { "transfer-encoding": "chunked" } }, (res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
      req.on("error", () => {});
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < 40 && req.write(chunk)) sent++;
        if (sent < 40) req.once("drain", () => (sent++, pump()));
        else req.end();
      };
      pump();
    });
    assert.equal(chunked, 413, "a chunked body past the limit is refused");
    const notJson = await f.admin(cp).text("POST", "/v1/apply", "{ this is not json");
    assert.equal(notJson.status, 400);
    assert.match(notJson.body, /ZM_BAD_MESSAGE/);

    // Everyone else is still served: the admin API answers, the proxies stay in sync, traffic flows.
    assert.equal((await f.admin(cp).call("GET", "/v1/proxy-status")).status, 200);
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const ok = await send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/", headers: {} }, { proxy: { host: client.sidecar.outboundAddress.split(":")[0]!, port: Number(client.sidecar.outboundAddress.split(":")[1]) } });
    assert.equal(ok.kind === "response" && ok.status, 200);
  } finally {
    await f.stop([web, client], cp);
  }
});

test("attack: a flood of connections that never authenticate (held mid-handshake, or after one without a certificate) keeps no proxy out, and ends by itself", { timeout: 60_000 }, async () => {
  const f = await controlFixture({ admission: { unauthenticated: 64, unauthenticatedPerSource: 32, unauthenticatedMs: 1500 } });
  const cp = await f.open();
  const [host, port] = [cp.address.split(":")[0]!, Number(cp.address.split(":")[1])];
  const held: { closed: boolean }[] = [];
  const hold = (s: Socket) => {
    const h = { closed: false };
    s.on("error", () => {});
    s.on("close", () => (h.closed = true));
    held.push(h);
  };
  const agents: ProxyAgent[] = [];
  try {
    // 100 TCP connections that never say a word, and 20 that finish a handshake without a certificate and then idle.
    for (let i = 0; i < 100; i++) hold(netConnect(port, host));
    for (let i = 0; i < 20; i++) hold(tlsConnect({ host, port, ca: f.rootPem, ALPNProtocols: ["h2"], checkServerIdentity: () => undefined }));
    await waitUntil(() => held.filter((h) => h.closed).length >= 120 - 32, 10_000);
    assert.ok(held.filter((h) => !h.closed).length <= 32, "one source holds at most its share of unauthenticated connections");

    // Proxies bootstrap and open their streams through it.
    for (const id of ["b/web", "a/client"]) agents.push(f.agent(id, cp.address, f.rootPem, cp.issueBootstrap(id)));
    await Promise.all(agents.map((a) => a.start()));
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    // What the flood still holds ends within the unauthenticated lifetime; the proxies' authenticated streams do not.
    await waitUntil(() => held.every((h) => h.closed), 10_000);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(cp.synced(["b/web", "a/client"]), true, "authenticated streams outlive the unauthenticated lifetime");
    assert.equal(f.events.filter((e) => /"event":"connected"/.test(e)).length, 2, "each proxy connected once: no stream was cut");
    assert.ok(!f.events.some((e) => /"event":"stream-error"/.test(e)), f.events.filter((e) => /stream-error/.test(e)).join("\n"));
  } finally {
    await f.stop(agents, cp);
  }
});

/**
 * A config stream opened by hand with b/web's own certificate, as a compromised b/web would: the attacker holds the
 * workload, not anyone else's identity.
 */
async function ownStream(f: { rootPem: string }, cp: ControlPlane) {
  const web = await csrFor(WEB);
  const issued = JSON.parse((await controlCall(cp.address, f.rootPem, "/v1/certificate", { authorization: `Bearer ${cp.issueBootstrap("b/web")}` }, web.body)).body) as { certPem: string; chainPem: string };
  const session = h2Connect(`https://${cp.address}`, { ca: f.rootPem, cert: issued.certPem + issued.chainPem, key: web.keyPem, checkServerIdentity: () => undefined });
  session.on("error", () => {});
  const stream = session.request({ ":method": "POST", ":path": "/v1/stream", "x-zeromesh-workload": "b/web" }, { endStream: false });
  stream.on("error", () => {});
  await new Promise<void>((resolve) => stream.once("response", () => resolve()));
  return { session, stream };
}

test("attack: a compromised proxy flooding its stream with reports cannot crowd out the denials and alerts others report", { timeout: 60_000 }, async () => {
  const f = await controlFixture();
  const cp = await f.open();
  try {
    const { session, stream } = await ownStream(f, cp);
    const denial = (i: number) => ({ direction: "inbound", method: "GET", host: "web.b", port: 8080, path: `/forged/${i}`, reason: "forged", answer: "HTTP 403", trail: [], count: 1, first: "x", last: "x" });
    const report = (type: string, i: number) => JSON.stringify(type === "denials" ? { type, denials: [denial(i)] } : { type, destinations: [{ host: `h${i}.example`, port: 80, protocol: "http", count: 1, reason: "forged" }] });
    // 200 reports of each kind at once, as fast as the socket takes them.
    stream.write([JSON.stringify({ type: "hello", listeners: {} }), ...Array.from({ length: 200 }, (_, i) => `${report("denials", i)}\n${report("egress-blocked", i)}`)].join("\n") + "\n");
    const admin = f.admin(cp);
    await waitUntil(async () => (await admin.call<unknown[]>("GET", "/v1/denials")).body.length > 0, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const denials = (await admin.call<{ proxy: string }[]>("GET", "/v1/denials")).body;
    const alerts = (await admin.call<{ proxy: string }[]>("GET", "/v1/alerts")).body;
    assert.deepEqual([denials.length, alerts.length], [1, 1], "one report of each kind per interval is taken; the rest are ignored");
    assert.equal(denials[0]!.proxy, "b/web", "and it is recorded as the proxy that sent it");
    session.destroy();
  } finally {
    await f.stop([], cp);
  }
});

test("attack: a compromised proxy that answers every configuration with a resync gets its whole one once per delta, never a loop", { timeout: 60_000 }, async () => {
  const f = await controlFixture();
  const cp = await f.open();
  try {
    const { session, stream } = await ownStream(f, cp);
    // Every configuration it gets, whole or delta, it answers as the protocol lets a proxy ask for a whole one.
    const got: { type: string; version: number }[] = [];
    let answer: (version: number) => object = (version) => ({ type: "ack", version });
    let text = "";
    stream.setEncoding("utf8");
    stream.on("data", (c: string) => {
      text += c;
      for (let nl; (nl = text.indexOf("\n")) >= 0; text = text.slice(nl + 1)) {
        const m = JSON.parse(text.slice(0, nl)) as { type: string; config?: { version: number }; delta?: { version: number } };
        const version = (m.config ?? m.delta)!.version;
        got.push({ type: m.type, version });
        stream.write(JSON.stringify(answer(version)) + "\n");
      }
    });
    stream.write(JSON.stringify({ type: "hello", listeners: {} }) + "\n");
    await waitUntil(() => got.length === 1);
    assert.equal(got[0]!.type, "config");

    answer = (version) => ({ type: "nack", version, error: "forged", resync: true });
    // A whole configuration asked for again: nothing is resent.
    stream.write(JSON.stringify(answer(got[0]!.version)) + "\n");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(got.length, 1, "a whole configuration is never resent for a resync");

    // Acknowledged, the next change comes as a delta; its resync is answered once, and the answer's resync not at all.
    answer = (version) => ({ type: "ack", version });
    stream.write(JSON.stringify(answer(got[0]!.version)) + "\n");
    const policy = (name: string) => parseTexts([{ text: `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: b}\nspec: {action: DENY, rules: [{to: [{operation: {paths: ["/${name}"]}}]}]}`, file: "p.yaml" }], DEFAULT_MESH).resources;
    answer = (version) => ({ type: "nack", version, error: "forged", resync: true });
    f.store.commit({ upsert: policy("one"), remove: [] });
    await waitUntil(() => got.length >= 3);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(got.map((g) => g.type), ["config", "delta", "config"], "the delta's resync is answered once, with the whole configuration; that one's resync with nothing");
    assert.equal(f.audits.filter((a) => a.event === "config-resync").length, 1);
    session.destroy();
  } finally {
    await f.stop([], cp);
  }
});
