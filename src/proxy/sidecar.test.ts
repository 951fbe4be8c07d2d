// The data path with real sockets: client → sidecar → mTLS → sidecar → app.
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
import { send, type ClientRequest } from "../scenario/client.js";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import type { Snapshot } from "../store/snapshot.js";
import type { AccessLogEntry } from "./context.js";
import { Sidecar } from "./sidecar.js";
import { HopError, openHop } from "./upstream.js";
import { connect as connectTcp } from "node:net";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { request } from "node:http";

const BASE = meshYaml([
  { ns: "a", name: "client" },
  { ns: "b", name: "web", port: 8080 },
  { ns: "b", name: "db", port: 5432, portName: "tcp-db" },
]);
const doc = (kind: string, ns: string, name: string, spec: string) => `apiVersion: security.istio.io/v1\nkind: ${kind}\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, "  ")}`;

const started: { stop(): Promise<void> }[] = [];
after(() => Promise.all(started.map((s) => s.stop())));

async function mesh(dbApp?: { host: string; port: number }) {
  const ca = await CertificateAuthority.open({ stateDir: mkdtempSync(join(tmpdir(), "zm-dp-")), workloadTtlMs: 3_600_000 });
  const snap = snapshotOf(BASE);
  const reg = Registry.of(snap);
  const apps: Record<string, RunningApp> = {
    "b/web": await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1"),
    "b/db": await startApp({ workload: "db", namespace: "b" }, { serve: "tcp-echo" }, "127.0.0.1"),
  };
  for (const a of Object.values(apps)) started.push({ stop: () => a.close() });
  const sidecars: Record<string, Sidecar> = {};
  /** Access-log lines every sidecar wrote (whether it writes is the configuration's Telemetry to say). */
  const logs: AccessLogEntry[] = [];
  for (const id of ["a/client", "b/web", "b/db"]) {
    const w = reg.workload(id)!;
    const ports = reg.workloadPorts(w);
    const app = id === "b/db" && dbApp ? dbApp : apps[id] && { host: "127.0.0.1", port: apps[id]!.port };
    const log = (e: AccessLogEntry) => {
      logs.push(e);
      if (process.env.ZM_DEBUG) console.error(JSON.stringify(e));
    };
    const sc = new Sidecar({ id, address: w.address, ports, log, apps: Object.fromEntries(ports.map((p) => [p, app])) });
    const { csrPem, keyPem } = await createCsr(w.spiffe);
    sc.setCredentials({ ...(await ca.sign(csrPem, w.spiffe)), keyPem });
    await sc.start();
    started.push(sc);
    sidecars[id] = sc;
  }
  const endpoints: EndpointTable = Object.fromEntries(Object.entries(sidecars).map(([id, s]) => [id, s.listeners]));
  // A host "outside" (passthrough never goes to the node's own addresses, so it is reached by a name the mesh resolves).
  const names = { "outside.example.com:80": sidecars["b/db"]!.statsAddress };
  let version = 0;
  const push = (s: Snapshot) => {
    version++;
    for (const [id, sc] of Object.entries(sidecars)) assert.deepEqual(sc.applyConfig(buildProxyConfig(s, Registry.of(s).workload(id)!, version, endpoints, names)), { ack: true, version });
  };
  push(snap);
  const proxy = (id: string) => {
    const [host, port] = sidecars[id]!.outboundAddress.split(":");
    return { proxy: { host: host!, port: Number(port) } };
  };
  return { sidecars, push, proxy, reg, logs };
}

const http = (url: string, extra: Partial<ClientRequest> = {}): ClientRequest => {
  const u = new URL(url);
  return { scheme: u.protocol.replace(":", "") as ClientRequest["scheme"], host: u.hostname, port: Number(u.port || 80), method: "GET", path: u.pathname + u.search, headers: {}, ...extra };
};

test("data path: HTTP and TCP over mTLS, authorization enforced, STRICT and fail-closed", async () => {
  const m = await mesh();
  const ok = await send(http("http://web.b:8080/hello"), m.proxy("a/client"));
  assert.equal(ok.kind === "response" && ok.status, 200, JSON.stringify(ok));
  const body = ok.kind === "response" ? JSON.parse(ok.body ?? "{}") : {};
  assert.equal(body.workload, "web");
  assert.equal(body.headers["x-forwarded-client-cert"], "By=spiffe://cluster.local/ns/b/sa/web;URI=spiffe://cluster.local/ns/a/sa/client");

  assert.deepEqual(await send({ ...http("tcp://db.b:5432"), send: "ping" }, m.proxy("a/client")), { kind: "echo" });

  m.push(snapshotOf([BASE, doc("AuthorizationPolicy", "b", "deny-a", `action: DENY\nrules: [{from: [{source: {namespaces: [a]}}], to: [{operation: {paths: ["/admin*"]}}]}]`), doc("PeerAuthentication", "b", "strict", "mtls: {mode: STRICT}")].join("\n---\n")));
  const denied = await send(http("http://web.b:8080/admin"), m.proxy("a/client"));
  assert.deepEqual(denied.kind === "response" && [denied.status, denied.body], [403, "RBAC: access denied"]);
  const notAdmin = await send(http("http://web.b:8080/ok"), m.proxy("a/client"));
  assert.equal(notAdmin.kind === "response" ? notAdmin.status : notAdmin.kind, 200, "only /admin* is denied");
  // A DENY rule with HTTP fields also resets TCP from namespace a (HTTP fields are ignored on TCP).
  assert.deepEqual(await send({ ...http("tcp://db.b:5432"), send: "ping" }, m.proxy("a/client")), { kind: "error", error: "reset" });

  const [host, port] = m.sidecars["b/web"]!.listeners["8080"]!.split(":");
  assert.deepEqual(await send(http(`http://web.b:8080/`), { direct: { host: host!, port: Number(port) } }), { kind: "error", error: "reset" }, "STRICT resets plaintext");

  const fresh = new Sidecar({ id: "a/late", address: m.reg.workload("a/client")!.address, ports: [], apps: {}, outboundPort: 15002 });
  await fresh.start();
  started.push(fresh);
  assert.deepEqual(await send(http("http://web.b:8080/"), { proxy: { host: m.reg.workload("a/client")!.address, port: 15002 } }), { kind: "error", error: "reset" }, "no configuration yet: fail closed");
});

test("attack: a client forging who it is in headers is denied, and the denial's trail (made when read) names the identity mTLS proved", async () => {
  const m = await mesh();
  m.push(snapshotOf([BASE, doc("AuthorizationPolicy", "b", "deny-a", `action: DENY\nrules: [{from: [{source: {namespaces: [a]}}], to: [{operation: {paths: ["/admin*"]}}]}]`)].join("\n---\n")));
  m.sidecars["b/web"]!.denials.take();
  const forged = { "x-forwarded-client-cert": "By=spiffe://cluster.local/ns/b/sa/web;URI=spiffe://cluster.local/ns/b/sa/web", "x-forwarded-for": "10.0.0.1" };
  const denied = await send(http("http://web.b:8080/admin", { headers: forged }), m.proxy("a/client"));
  assert.deepEqual(denied.kind === "response" && [denied.status, denied.body], [403, "RBAC: access denied"]);
  const [d] = m.sidecars["b/web"]!.denials.take()!.denials;
  assert.equal(d!.peer, "spiffe://cluster.local/ns/a/sa/client");
  assert.equal(d!.policy, "AuthorizationPolicy/b/deny-a");
  // The deferred steps are text by the time anyone reads them, and they say what mTLS proved, not what the headers claim.
  assert.ok(d!.trail.every((s) => typeof s.message === "string" && s.message.length > 0), JSON.stringify(d!.trail));
  const text = d!.trail.map((s) => `[${s.stage}] ${s.message}`).join("\n");
  assert.match(text, /\[peer-authn\] .*mutual TLS from spiffe:\/\/cluster\.local\/ns\/a\/sa\/client/);
  assert.match(text, /\[authz\] DENY AuthorizationPolicy\/b\/deny-a: rule 0 matches/);
  assert.match(text, /\[authz\] denied: DENY policy matched rule 0/);
  assert.doesNotMatch(text, /ns\/b\/sa\/web;URI|10\.0\.0\.1/);
});

test("data path: stopping a sidecar closes the connections it holds, an idle keep-alive mTLS one from another sidecar too", { timeout: 20_000 }, async () => {
  const m = await mesh();
  const ok = await send(http("http://web.b:8080/hello"), m.proxy("a/client"));
  assert.equal(ok.kind === "response" && ok.status, 200);
  // The client's sidecar now keeps an idle mTLS connection to web's (its pool holds it for a minute); stop must not wait for it.
  const [host, port] = m.sidecars["b/web"]!.listeners["8080"]!.split(":");
  const idle = connectTcp(Number(port), host);
  await new Promise((r) => idle.once("connect", r));
  const idleClosed = new Promise((r) => idle.once("close", r));
  idle.on("error", () => {});
  await m.sidecars["b/web"]!.stop();
  await idleClosed;
  const after = await send(http("http://web.b:8080/hello"), m.proxy("a/client"));
  assert.deepEqual(after.kind === "response" && [after.status, after.body], [503, "upstream connect error or disconnect/reset before headers"], "the stopped sidecar's listeners are closed");
});

test("data path: each proxy serves Istio's standard metrics for what it handled, as its side sees it", async () => {
  const m = await mesh();
  assert.deepEqual(await send({ ...http("tcp://db.b:5432"), send: "ping" }, m.proxy("a/client")), { kind: "echo" });
  // (A DENY rule with HTTP fields would reset TCP in the namespace too: pushed after the connection.)
  m.push(snapshotOf([BASE, doc("AuthorizationPolicy", "b", "deny-admin", `action: DENY\nrules: [{to: [{operation: {paths: ["/admin"]}}]}]`)].join("\n---\n")));
  for (const path of ["/a", "/b", "/admin"]) await send(http(`http://web.b:8080${path}`), m.proxy("a/client"));
  const stats = async (id: string) => {
    const [host, port] = m.sidecars[id]!.statsAddress.split(":");
    const r = await send(http(`http://${host}:${port}/stats/prometheus`), { direct: { host: host!, port: Number(port) } });
    assert.equal(r.kind === "response" && r.status, 200);
    return r.kind === "response" ? r.body ?? "" : "";
  };
  const value = (text: string, name: string, labels: Record<string, string>) => {
    const hit = text.split("\n").filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
    return hit.reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
  };
  // The TCP connection is counted closed once both sides have ended it: wait for that rather than race it.
  const deadline = Date.now() + 10_000;
  while (value(await stats("a/client"), "istio_tcp_connections_closed_total", { reporter: "source" }) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // A host outside the registry (ALLOW_ANY passes it through) counts as Istio's PassthroughCluster, not as a series of its own.
  const outside = await send(http("http://outside.example.com/stats/prometheus"), m.proxy("a/client"));
  assert.equal(outside.kind === "response" && outside.status, 200);
  const client = await stats("a/client");
  assert.equal(value(client, "istio_requests_total", { reporter: "source", destination_service: "PassthroughCluster", destination_workload: "unknown", response_code: "200" }), 1);
  const web = await stats("b/web");
  const db = await stats("b/db");
  const toWeb = { source_workload: "client", destination_workload: "web", destination_service: "web.b.svc.cluster.local" };
  assert.equal(value(client, "istio_requests_total", { reporter: "source", ...toWeb, response_code: "200", request_protocol: "http" }), 2);
  assert.equal(value(client, "istio_requests_total", { reporter: "source", ...toWeb, response_code: "403" }), 1);
  assert.equal(value(web, "istio_requests_total", { reporter: "destination", source_principal: "spiffe://cluster.local/ns/a/sa/client", connection_security_policy: "mutual_tls", destination_workload: "web", response_code: "200" }), 2);
  assert.equal(value(web, "istio_requests_total", { reporter: "destination", response_code: "403" }), 1, "the denial is counted where it was decided");
  assert.equal(value(web, "istio_request_duration_milliseconds_count", { reporter: "destination", response_code: "200" }), 2);
  assert.equal(value(client, "istio_tcp_connections_opened_total", { reporter: "source", destination_workload: "db", request_protocol: "tcp" }), 1);
  assert.equal(value(client, "istio_tcp_connections_closed_total", { reporter: "source", destination_workload: "db" }), 1);
  assert.equal(value(db, "istio_tcp_connections_opened_total", { reporter: "destination", destination_workload: "db", connection_security_policy: "mutual_tls" }), 1);
  assert.equal(value(web, "istio_tcp_connections_opened_total", {}), 0, "web handled no TCP");
});

test("data path: Telemetry decides what each side logs and counts, as pushed", async () => {
  const m = await mesh();
  const call = async () => {
    m.logs.length = 0;
    const r = await send(http("http://web.b:8080/t"), m.proxy("a/client"));
    assert.equal(r.kind === "response" && r.status, 200);
    return m.logs.map((l) => `${l.proxy} ${l.direction}`).sort();
  };
  assert.deepEqual(await call(), [], "Istio's default: no access log");
  const tel = (ns: string, name: string, spec: string) => `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, "  ")}`;
  m.push(snapshotOf([BASE, tel("istio-system", "mesh-default", "accessLogging: [{providers: [{name: envoy}]}]")].join("\n---\n")));
  assert.deepEqual(await call(), ["a/client outbound", "b/web inbound"], "a mesh-wide Telemetry turns it on for both sides");
  m.push(snapshotOf([
    BASE,
    tel("istio-system", "mesh-default", "accessLogging: [{providers: [{name: envoy}]}]\nmetrics: [{overrides: [{match: {metric: REQUEST_COUNT, mode: SERVER}, disabled: true}]}]"),
    tel("b", "web-quiet", "selector: {matchLabels: {app: web}}\naccessLogging: [{match: {mode: SERVER}, disabled: true}]"),
  ].join("\n---\n")));
  assert.deepEqual(await call(), ["a/client outbound"], "web's own Telemetry turns its inbound log off");
  const [host, port] = m.sidecars["b/web"]!.statsAddress.split(":");
  const stats = await send(http(`http://${host}:${port}/stats/prometheus`), { direct: { host: host!, port: Number(port) } });
  const text = stats.kind === "response" ? stats.body ?? "" : "";
  // Three calls reached web; the last after REQUEST_COUNT was turned off on the server side, while durations still count.
  assert.match(text, /^istio_requests_total\{reporter="destination".*response_code="200"\} 2$/m);
  assert.match(text, /^istio_request_duration_milliseconds_count\{reporter="destination".*response_code="200"\} 3$/m);
});

test("data path: an invalid push is rejected and the last good configuration stays", async () => {
  const m = await mesh();
  const sc = m.sidecars["a/client"]!;
  const good = sc.state()!.version;
  const bad = buildProxyConfig(snapshotOf(BASE), m.reg.workload("a/client")!, 99, {}, {});
  bad.manifests.push({ apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "x", namespace: "a" }, spec: { action: "MAYBE" } });
  const r = sc.applyConfig(bad);
  assert.equal(r.ack, false);
  assert.match(!r.ack ? r.error : "", /spec\.action: must be one of ALLOW, DENY, AUDIT, CUSTOM/);
  assert.equal(sc.state()!.version, good);
  const served = await send(http("http://web.b:8080/"), m.proxy("a/client"));
  assert.equal(served.kind === "response" ? served.status : served.kind, 200, "the last good configuration keeps serving");
});

test("data path: a delta is applied to the version held; an invalid one or one against another version changes nothing", async () => {
  const m = await mesh();
  const sc = m.sidecars["a/client"]!;
  const good = sc.state()!;
  const delta = (over: object) => ({ version: good.version + 1, base: good.version, workload: "a/client", upsert: [], remove: [], endpoints: {}, names: {}, ...over });
  const invalid = sc.applyDelta(delta({ upsert: [{ apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "x", namespace: "a" }, spec: { action: "MAYBE" } }] }));
  assert.equal(invalid.ack, false);
  assert.match(!invalid.ack ? invalid.error : "", /spec\.action: must be one of/);
  assert.equal(!invalid.ack && invalid.resync, undefined, "an invalid delta is a rejection, not a request for the whole configuration");
  const other = sc.applyDelta(delta({ base: good.version - 1 }));
  assert.deepEqual(other.ack === false && other.resync, true);
  assert.equal(sc.state(), good, "the held state is untouched");
  // Endpoints alone keep the snapshot (and every index made of it); a removal makes a new one without the document.
  assert.deepEqual(sc.applyDelta(delta({ endpoints: { "x/y": { "80": "127.0.0.9:80" } } })), { ack: true, version: good.version + 1 });
  assert.equal(sc.state()!.snapshot, good.snapshot);
  assert.equal(sc.state()!.config.endpoints["x/y"]?.["80"], "127.0.0.9:80");
  const key = [...good.snapshot.resources.keys()].find((k) => k.startsWith("Service/b/"))!;
  assert.deepEqual(sc.applyDelta({ ...delta({ remove: [key] }), version: good.version + 2, base: good.version + 1 }), { ack: true, version: good.version + 2 });
  assert.equal(sc.state()!.snapshot.resources.has(key), false);
  assert.equal(sc.state()!.config.endpoints["x/y"]?.["80"], "127.0.0.9:80", "what earlier deltas set stays");
  // Requests decided on one configuration share its env; the next configuration gets its own, with its snapshot.
  const env = sc.env(sc.state()!);
  assert.equal(sc.env(sc.state()!), env);
  assert.notEqual(sc.env(good), env);
  assert.equal(sc.env(good).snapshot, good.snapshot);
  assert.equal(env.scope, "hop");
});

test("data path: a server-first protocol (the server greets before the client speaks) works through both sidecars", async () => {
  const greeter = createServer((sock) => sock.end("220 db ready\n"));
  await new Promise<void>((r) => greeter.listen(0, "127.0.0.1", r));
  started.push({ stop: () => new Promise<void>((r) => greeter.close(() => r())) });
  const m = await mesh({ host: "127.0.0.1", port: (greeter.address() as AddressInfo).port });
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = request({ ...m.proxy("a/client").proxy, method: "CONNECT", path: "db.b:5432" });
    req.once("connect", (_res, s) => resolve(s));
    req.once("error", reject);
    req.end();
  });
  const greeting = await new Promise<string>((resolve) => {
    let got = "";
    socket.on("data", (d) => (got += d));
    socket.on("close", () => resolve(got));
  });
  assert.equal(greeting, "220 db ready\n");
});

/** Raw bytes to a listener, returning the status line of whatever comes back. */
function raw(host: string, port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connectTcp(port, host, () => s.write(bytes));
    let got = "";
    s.on("data", (d) => (got += d));
    s.on("close", () => resolve(got.split("\r\n")[0] ?? ""));
    s.on("error", () => resolve(got.split("\r\n")[0] ?? ""));
  });
}

test("data path: malformed and oversized requests get 400 and 431, and the proxy keeps serving", async () => {
  const m = await mesh();
  const { host, port } = m.proxy("a/client").proxy;
  assert.equal(await raw(host, port, "GARBAGE\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  assert.equal(await raw(host, port, `GET http://web.b:8080/ HTTP/1.1\r\nhost: web.b\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`), "HTTP/1.1 431 Request Header Fields Too Large");
  const [ih, ip] = m.sidecars["b/web"]!.listeners["8080"]!.split(":");
  assert.equal(await raw(ih!, Number(ip), "BROKEN / HTTP/1.1\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  const ok = await send(http("http://web.b:8080/after"), m.proxy("a/client"));
  assert.equal(ok.kind === "response" && ok.status, 200);
});

test("data path: a peer with the wrong SPIFFE identity, another CA, or an expired certificate is refused", async () => {
  const m = await mesh();
  const web = m.reg.workload("b/web")!;
  const [host, port] = m.sidecars["b/web"]!.listeners["8080"]!.split(":");
  const target = { host: host!, port: Number(port), mtls: true, serviceHost: "web.b.svc.cluster.local", servicePort: 8080 };
  const client = m.sidecars["a/client"]!.credentials()!;
  // The client checks the server: it must be one of the identities the destination runs as.
  await assert.rejects(openHop({ ...target, identities: ["spiffe://cluster.local/ns/b/sa/someone-else"] }, client), (e) => e instanceof HopError && e.kind === "identity");
  const good = await openHop({ ...target, identities: [web.spiffe] }, client);
  good.destroy();
  // The server checks the client: another CA's certificate, or an expired one, is refused.
  const rogue = await CertificateAuthority.open({ stateDir: mkdtempSync(join(tmpdir(), "zm-rogue-")), workloadTtlMs: 3_600_000 });
  const expiredCa = await CertificateAuthority.open({ stateDir: mkdtempSync(join(tmpdir(), "zm-exp-")), workloadTtlMs: 1000, now: () => new Date(Date.now() - 3_600_000) });
  for (const [name, ca] of [["another CA", rogue], ["expired", expiredCa]] as const) {
    const { csrPem, keyPem } = await createCsr("spiffe://cluster.local/ns/a/sa/client");
    const creds = { ...(await ca.sign(csrPem, "spiffe://cluster.local/ns/a/sa/client")), keyPem, rootPem: client.rootPem };
    const outcome = await openHop({ ...target, identities: [web.spiffe] }, creds).then(
      (s) => new Promise<string>((resolve) => {
        // TLS 1.3: the server's verdict on the client certificate arrives after the handshake.
        s.on("data", () => resolve("served"));
        s.on("error", () => resolve("refused"));
        s.on("close", () => resolve("refused"));
        s.write("GET / HTTP/1.1\r\nhost: web.b\r\n\r\n");
      }),
      () => "refused",
    );
    assert.equal(outcome, "refused", name);
  }
});

test("sidecar: a workload port another program holds is taken elsewhere, and said so (not moved silently)", async () => {
  const { createServer } = await import("node:net");
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
  const port = (holder.address() as import("node:net").AddressInfo).port;
  const sc = new Sidecar({ id: "a/moved", address: "127.0.0.1", ports: [port], apps: {}, outboundPort: 0, statsPort: 0 });
  try {
    await sc.start();
    assert.notEqual(sc.listeners[String(port)], `127.0.0.1:${port}`);
    assert.deepEqual(sc.moved, [`workload port ${port} is taken on 127.0.0.1: listening on ${sc.listeners[String(port)]} instead (the control plane publishes it)`]);
  } finally {
    await sc.stop();
    holder.close();
  }
});
