// The control plane with real proxy agents over real sockets.
import { after, test } from "node:test";
import { parse } from "yaml";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Notifier } from "./notifier.js";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../cli/main.js";
import { DEFAULT_MESH } from "../api/mesh.js";
import { parseTexts } from "../store/apply.js";
import { send } from "../scenario/client.js";
import { controlFixture, io, waitUntil } from "../testing/control-plane.js";
import { tcpGate } from "../testing/net.js";
import type { AdminClient } from "./admin-client.js";

const get = (addr: string, path = "/") => send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path, headers: {} }, { proxy: { host: addr.split(":")[0]!, port: Number(addr.split(":")[1]) } });
const DENY_ADMIN = "\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: no-admin, namespace: b}\nspec: {action: DENY, rules: [{to: [{operation: {paths: [\"/admin*\"]}}]}]}\n";
/** The endpoints the control plane last pushed to a proxy. */
const pushedEndpoints = async (admin: AdminClient, proxy: string) =>
  (await admin.call<{ config: { endpoints: Record<string, unknown> } | null }>("GET", `/v1/proxy-config?proxy=${proxy}`)).body.config?.endpoints ?? {};

test("control plane: proxies sync, status and config are visible, an invalid apply changes nothing", { timeout: 60_000 }, async () => {
  const f = await controlFixture();
  const cp = await f.open();
  const root = f.rootPem;
  const web = f.agent("b/web", cp.address, root, cp.issueBootstrap("b/web"));
  const client = f.agent("a/client", cp.address, root, cp.issueBootstrap("a/client"));
  await Promise.all([web.start(), client.start()]);
  try {
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const ok = await get(client.sidecar.outboundAddress);
    assert.equal(ok.kind === "response" && ok.status, 200);

    f.cliEnv(cp);
    const st = io();
    assert.equal(await run(["proxy-status"], st.io), 0);
    assert.match(st.out.join("\n"), /^PROXY\s+POD IP\s+NODE\s+CONNECTED\s+STATUS\s+SENT\s+ACKED/);
    assert.match(st.out.join("\n"), /a\/client\s+-\s+-\s+yes\s+SYNCED/, "no pod IP (nor node) in loopback mode");
    const pc = io();
    assert.equal(await run(["proxy-config", "clusters", "a/client"], pc.io), 0);
    assert.match(pc.out.join("\n"), /web\.b\.svc\.cluster\.local\s+8080\s+HTTP\s+Service\/b\/web/);
    const tel = io();
    assert.equal(await run(["proxy-config", "telemetry", "a/client"], tel.io), 0);
    assert.match(tel.out.join("\n"), /CLIENT\s+off\s+REQUEST_COUNT,REQUEST_DURATION,TCP_OPENED_CONNECTIONS,TCP_CLOSED_CONNECTIONS\s+access log off: no Telemetry asks for access logs and meshConfig\.accessLogFile is empty/);
    const sec = io();
    await run(["proxy-config", "secret", "b/web", "-o", "json"], sec.io);
    assert.equal(JSON.parse(sec.out.join("")).spiffe, "spiffe://cluster.local/ns/b/sa/web");

    const before = f.store.snapshot().version;
    const dir = mkdtempSync(join(tmpdir(), "zm-apply-"));
    writeFileSync(join(dir, "bad.yaml"), "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny, namespace: b}\nspec: {action: DENY, rules: [{}]}\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: bad, namespace: b}\nspec: {action: NOPE}\n");
    const bad = io();
    assert.equal(await run(["apply", "-f", join(dir, "bad.yaml")], bad.io), 1);
    assert.match(bad.err.join("\n"), /bad\.yaml#2 AuthorizationPolicy\/b\/bad spec\.action: must be one of/);
    assert.equal(f.store.snapshot().version, before, "nothing was applied");
    const still = await get(client.sidecar.outboundAddress);
    assert.equal(still.kind === "response" ? still.status : still.kind, 200, "the rejected apply left the mesh as it was");

    writeFileSync(join(dir, "deny.yaml"), "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny, namespace: b}\nspec: {action: DENY, rules: [{}]}\n");
    assert.equal(await run(["apply", "-f", join(dir, "deny.yaml")], io().io), 0);
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const denied = await get(client.sidecar.outboundAddress);
    assert.equal(denied.kind === "response" && denied.status, 403);
    assert.equal(await run(["delete", "-f", join(dir, "deny.yaml")], io().io), 0);
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const g = io();
    await run(["get", "authorizationpolicies", "-n", "b"], g.io);
    assert.doesNotMatch(g.out.join("\n"), /deny/);
    // kubectl's ways: short names, -A for every namespace, the default namespace otherwise, unknown kinds refused.
    const all = io();
    assert.equal(await run(["get", "svc", "-A"], all.io), 0);
    assert.match(all.out.join("\n"), /^a\s+client$/m);
    assert.match(all.out.join("\n"), /^b\s+web$/m);
    const inDefault = io();
    assert.equal(await run(["get", "svc"], inDefault.io), 0);
    assert.doesNotMatch(inDefault.out.join("\n"), /web|client/);
    const status = io();
    await run(["proxy-status", "-o", "yaml"], status.io);
    assert.ok((parse(status.out.join("\n")) as { proxy: string }[]).some((r) => r.proxy === "b/web"), "-o yaml is data");
    const badOutput = io();
    assert.equal(await run(["alerts", "-o", "xml"], badOutput.io), 2);
    const unknown = io();
    assert.equal(await run(["get", "virtualservise"], unknown.io), 2);
    assert.match(unknown.err.join("\n"), /doesn't have a resource type "virtualservise"/);
  } finally {
    await f.stop([web, client], cp);
  }
});

test("control plane: a proxy started first fails closed; a restart mid-traffic keeps allowed requests flowing and denied ones denied, also before every proxy is back", { timeout: 90_000 }, async () => {
  const f = await controlFixture({ extraYaml: DENY_ADMIN });
  const root = f.rootPem;
  // Reserve the ports so the restarted control plane comes back where the proxies look for it.
  const first = await f.open();
  const [cpPort, adminPort] = [Number(first.address.split(":")[1]), Number(first.adminAddress.split(":")[1])];
  const tokens = { web: first.issueBootstrap("b/web"), client: first.issueBootstrap("a/client") };
  await first.stop();

  // The server's proxy reaches the control plane through a gate the test can shut: after the restart the
  // client's proxy reconnects alone first, and must not be pushed a mesh without the server.
  const gate = await tcpGate({ host: "127.0.0.1", port: cpPort });
  const web = f.agent("b/web", gate.address, root, tokens.web);
  const client = f.agent("a/client", first.address, root, tokens.client, 0.5, 15003);
  void web.start();
  void client.start();
  await waitUntil(() => client.sidecar.outboundAddress !== "");
  assert.deepEqual(await get(client.sidecar.outboundAddress), { kind: "error", error: "reset" }, "no control plane yet: fail closed");

  let cp = await f.open(cpPort, adminPort);
  await waitUntil(() => cp.synced(["b/web", "a/client"]));
  // Traffic that runs through the whole stop and restart: every allowed request must succeed, every denied one stay denied.
  let traffic = true;
  const seen = { allowed: 0, denied: 0, wrong: [] as string[] };
  const loop = (async () => {
    while (traffic) {
      const [ok, admin] = await Promise.all([get(client.sidecar.outboundAddress), get(client.sidecar.outboundAddress, "/admin/users")]);
      if (ok.kind === "response" && ok.status === 200) seen.allowed++;
      else seen.wrong.push(`GET / → ${JSON.stringify(ok)}`);
      if (admin.kind === "response" && admin.status === 403) seen.denied++;
      else seen.wrong.push(`GET /admin/users → ${JSON.stringify(admin)}`);
    }
  })();
  const moreTraffic = async () => {
    const before = seen.allowed;
    await waitUntil(() => seen.allowed > before + 5);
  };
  try {
    try {
      await moreTraffic();
      await cp.stop();
      await moreTraffic(); // served from the last good configuration while the control plane is away
      gate.shut();
      cp = await f.open(cpPort, adminPort);
      await waitUntil(() => cp.synced(["a/client"]));
      assert.ok((await pushedEndpoints(f.admin(cp), "a/client"))["b/web"], "the client was pushed the server's endpoint, remembered from before the restart");
      await moreTraffic();
      gate.open();
      await waitUntil(() => cp.synced(["b/web", "a/client"]));
      await moreTraffic();
    } finally {
      traffic = false;
      await loop;
    }
    assert.deepEqual(seen.wrong, [], "no allowed request failed and no denied request passed");
    assert.ok(seen.denied > 15, `denied requests were checked throughout (${seen.denied})`);
    // A proxy that stops says so: withdrawn at once, not after the grace (15 s here).
    await web.stop();
    await waitUntil(() => cp.synced(["a/client"]));
    await waitUntil(async () => !(await pushedEndpoints(f.admin(cp), "a/client"))["b/web"], 10_000);
    const gone = await get(client.sidecar.outboundAddress);
    assert.equal(gone.kind === "response" && gone.status, 503);
  } finally {
    await f.stop([web, client], cp, gate);
  }
});

test("control plane: a proxy whose stream drops stays an endpoint for the grace, then is forgotten; reconnecting brings it back", { timeout: 60_000 }, async () => {
  const f = await controlFixture({ graceMs: 3000 });
  const cp = await f.open();
  const root = f.rootPem;
  const gate = await tcpGate({ host: "127.0.0.1", port: Number(cp.address.split(":")[1]) });
  const web = f.agent("b/web", gate.address, root, cp.issueBootstrap("b/web"));
  const client = f.agent("a/client", cp.address, root, cp.issueBootstrap("a/client"), 0.5, 15005);
  await Promise.all([web.start(), client.start()]);
  try {
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    assert.equal((await get(client.sidecar.outboundAddress)).kind === "response", true);
    gate.shut();
    await waitUntil(() => !cp.synced(["b/web"]));
    // Its proxy still serves: requests keep reaching it while the control plane waits for it.
    const during = await get(client.sidecar.outboundAddress);
    assert.equal(during.kind === "response" && during.status, 200, JSON.stringify(during));
    await waitUntil(async () => !(await pushedEndpoints(f.admin(cp), "a/client"))["b/web"]);
    assert.ok(f.audits.some((a) => a.event === "endpoints-forgotten" && JSON.stringify(a.proxies) === '["b/web"]'), "the audit trail says why");
    const forgotten = await get(client.sidecar.outboundAddress);
    assert.deepEqual(forgotten.kind === "response" && [forgotten.status, forgotten.body], [503, "no healthy upstream"]);
    gate.open();
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const back = await get(client.sidecar.outboundAddress);
    assert.equal(back.kind === "response" && back.status, 200);
  } finally {
    await f.stop([web, client], cp, gate);
  }
});

const REGISTRY_ONLY = "\n---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: istio-system}\nspec: {egress: [{hosts: [\"*/*\"]}], outboundTrafficPolicy: {mode: REGISTRY_ONLY}}\n";

test("control plane: egress that REGISTRY_ONLY blocks becomes an alert per destination (audit trail, admin API, zeromesh alerts, a webhook receiver); allowed traffic raises none", { timeout: 60_000 }, async () => {
  // A real receiver, as a Slack incoming webhook would be.
  const received: { text: string; blocks: unknown[] }[] = [];
  const receiver = createHttpServer((q, s) => {
    const chunks: Buffer[] = [];
    q.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString()));
      s.end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const notifier = new Notifier([`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T0/B0/secret`]);
  after(() => (notifier.stop(), receiver.close()));
  const f = await controlFixture({ extraYaml: REGISTRY_ONLY, notifier });
  const cp = await f.open();
  const root = f.rootPem;
  const web = f.agent("b/web", cp.address, root, cp.issueBootstrap("b/web"));
  const client = f.agent("a/client", cp.address, root, cp.issueBootstrap("a/client"), 0.5, 15006);
  await Promise.all([web.start(), client.start()]);
  try {
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const [host, port] = client.sidecar.outboundAddress.split(":");
    const proxy = { proxy: { host: host!, port: Number(port) } };
    const ok = await get(client.sidecar.outboundAddress);
    assert.equal(ok.kind === "response" && ok.status, 200, "in the registry: allowed");
    const blocked = [
      await send({ scheme: "http", host: "example.com", port: 80, method: "GET", path: "/", headers: {} }, proxy),
      await send({ scheme: "http", host: "example.com", port: 80, method: "GET", path: "/again", headers: {} }, proxy),
      await send({ scheme: "tcp", host: "db.example.net", port: 5432, method: "CONNECT", path: "", headers: {}, send: "ping" }, proxy),
    ];
    assert.deepEqual(blocked.map((r) => (r.kind === "response" ? r.status : r.kind === "error" ? r.error : r.kind)), [502, 502, "reset"]);

    const alerts = f.admin(cp);
    type Alert = { proxy: string; host: string; port: number; protocol: string; count: number; policy?: string };
    const total = async (h: string) => (await alerts.call<Alert[]>("GET", "/v1/alerts")).body.filter((a) => a.host === h).reduce((n, a) => n + a.count, 0);
    await waitUntil(async () => (await total("example.com")) === 2 && (await total("db.example.net")) === 1, 10_000);
    const list = (await alerts.call<Alert[]>("GET", "/v1/alerts")).body;
    assert.deepEqual([...new Set(list.map((a) => `${a.proxy} ${a.protocol} ${a.host}:${a.port} ${a.policy}`))].sort(), [
      "a/client http example.com:80 Sidecar/istio-system/default",
      "a/client tcp db.example.net:5432 Sidecar/istio-system/default",
    ], "only the blocked destinations, each from the proxy that blocked it and the resource that decided");
    assert.ok(f.audits.some((a) => a.event === "egress-blocked" && a.host === "example.com" && a.proxy === "a/client"), "each alert is an audit line too");
    await waitUntil(() => received.some((m) => m.text.includes("db.example.net:5432")), 10_000);
    const blockedMsg = received.find((m) => m.text.includes("db.example.net:5432"))!;
    assert.match(blockedMsg.text, /^\*Egress blocked\* by Sidecar\/istio-system\/default: `a\/client` → tcp `db\.example\.net:5432`, 1 time/);
    assert.deepEqual(blockedMsg.blocks, [{ type: "section", text: { type: "mrkdwn", text: blockedMsg.text } }], "Slack's incoming-webhook shape");

    // Every change to what a workload may reach reaches the receiver too, with the hosts it adds and removes and who applied it.
    const dir = mkdtempSync(join(tmpdir(), "zm-egress-"));
    writeFileSync(join(dir, "se.yaml"), "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db, namespace: a}\nspec: {hosts: [db.example.net], ports: [{number: 5432, name: tcp, protocol: TCP}], resolution: DNS, location: MESH_EXTERNAL}\n");
    f.cliEnv(cp);
    assert.equal(await run(["apply", "-f", join(dir, "se.yaml"), "--no-wait"], io().io), 0);
    await waitUntil(() => received.some((m) => m.text.startsWith("*Egress changed*")), 10_000);
    assert.match(received.find((m) => m.text.startsWith("*Egress changed*"))!.text, /^\*Egress changed\* \(config version \d+, zeromesh apply\):\n• ServiceEntry\/a\/db added: \+db\.example\.net:5432$/);

    const out = io();
    assert.equal(await run(["alerts"], out.io), 1, "exit 1 when there are alerts");
    assert.match(out.out.join("\n"), /^LAST SEEN\s+PROXY\s+BLOCKED DESTINATION\s+COUNT\s+DECIDED BY/);
    assert.match(out.out.join("\n"), /a\/client\s+tcp db\.example\.net:5432\s+1\s+Sidecar\/istio-system\/default/);

    // The same blocks in the proxy's metrics, as Istio shows them (the BlackHole cluster), through the CLI.
    const metrics = io();
    assert.equal(await run(["metrics", "a/client"], metrics.io), 0, metrics.err.join("\n"));
    const blackhole = metrics.out.join("\n").split("\n").filter((l) => l.startsWith("istio_requests_total{") && l.includes('destination_service="BlackHoleCluster"'));
    assert.deepEqual(blackhole.map((l) => [/response_code="(\d+)"/.exec(l)?.[1], l.split(" ").at(-1)]), [["502", "2"]]);
    assert.match(metrics.out.join("\n"), /istio_requests_total\{reporter="source",source_workload="client",.*destination_service="web\.b\.svc\.cluster\.local".*response_code="200"\} 1/);
    const listeners = io();
    assert.equal(await run(["proxy-config", "listeners", "a/client"], listeners.io), 0);
    assert.match(listeners.out.join("\n"), /stats\s+\/stats\/prometheus\s+127\.[\d.]+:\d+/);
  } finally {
    await f.stop([web, client], cp);
  }
});

test("control plane: certificates rotate before expiry without failing requests", { timeout: 60_000 }, async () => {
  // 4 s certificates renewed at half-life: a renewal that comes more than 2 s late meets an expired certificate,
  // which the CA refuses (a loaded CI machine delayed one by over 1 s with 2 s certificates).
  const f = await controlFixture({ ttlMs: 4000 });
  const cp = await f.open();
  const root = f.rootPem;
  const web = f.agent("b/web", cp.address, root, cp.issueBootstrap("b/web"), 0.5);
  const client = f.agent("a/client", cp.address, root, cp.issueBootstrap("a/client"), 0.5, 15004);
  await Promise.all([web.start(), client.start()]);
  try {
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const firstCert = web.sidecar.credentials()!.certPem;
    const seen = new Set([firstCert]);
    const started = Date.now();
    let requests = 0;
    // Keep calling across several rotations (each certificate lives 4 s and is replaced at half-life), for longer
    // than the control plane's own first certificate lives: it must rotate too, or renewals stop.
    // Bounded: a rotation that never comes fails the test instead of hanging it.
    const deadline = Date.now() + 30_000;
    while ((seen.size < 3 || Date.now() - started < 5_000 || requests < 5) && Date.now() < deadline) {
      const r = await get(client.sidecar.outboundAddress);
      assert.equal(r.kind === "response" && r.status, 200, `request ${requests} failed: ${JSON.stringify(r)}`);
      requests++;
      seen.add(web.sidecar.credentials()!.certPem);
    }
    const rotated = web.sidecar.credentials()!;
    assert.ok(seen.size >= 3 && Date.now() - started >= 5_000, `${seen.size - 1} rotations in ${Date.now() - started} ms; agent events:\n${f.events.slice(-20).join("\n")}`);
    assert.ok(rotated.notAfter.getTime() > Date.now(), "the new certificate is valid");
  } finally {
    await f.stop([web, client], cp);
  }
});

test("control plane: an idle proxy's keepalives hold its connection; without them the control plane closes it", { timeout: 60_000 }, async () => {
  // The control plane closes connections that carry nothing for idleMs; a proxy with nothing to report says it is there.
  const f = await controlFixture({ idleMs: 1500 });
  const cp = await f.open();
  const quiet = f.agent("b/web", cp.address, f.rootPem, cp.issueBootstrap("b/web"), 0.5, undefined, 1e9);
  const talking = f.agent("a/client", cp.address, f.rootPem, cp.issueBootstrap("a/client"), 0.5, undefined, 200);
  await Promise.all([quiet.start(), talking.start()]);
  try {
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const connects = (id: string) => f.events.filter((e) => e.includes(`"proxy":"${id}"`) && e.includes(`"event":"connected"`)).length;
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(connects("a/client"), 1, "kept: one connection all along");
    assert.ok(connects("b/web") >= 2, `closed when idle, then reconnected (${connects("b/web")} connections)`);
  } finally {
    await f.stop([quiet, talking], cp);
  }
});

test("control plane: after its first configuration a proxy is sent only what changed; one that holds another version asks for the whole one", { timeout: 60_000 }, async () => {
  const f = await controlFixture();
  const cp = await f.open();
  const web = f.agent("b/web", cp.address, f.rootPem, cp.issueBootstrap("b/web"));
  const client = f.agent("a/client", cp.address, f.rootPem, cp.issueBootstrap("a/client"));
  await Promise.all([web.start(), client.start()]);
  const applied = (proxy: string) => f.events.map((e) => JSON.parse(e) as { proxy: string; event: string; version: number; delta?: boolean }).filter((e) => e.proxy === proxy && e.event === "config-applied");
  try {
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    assert.equal(applied("b/web")[0]?.delta, undefined, "the first configuration on a stream is whole");
    const seen = applied("b/web").length;
    f.store.commit({ upsert: parseTexts([{ text: DENY_ADMIN, file: "deny.yaml" }], DEFAULT_MESH).resources, remove: [] });
    await waitUntil(() => cp.synced(["b/web", "a/client"]) && applied("b/web").length > seen);
    assert.equal(applied("b/web").at(-1)!.delta, true, "the policy came as a delta");
    assert.ok(web.sidecar.state()?.snapshot.resources.has("AuthorizationPolicy/b/no-admin"));
    const denied = await get(client.sidecar.outboundAddress, "/admin");
    assert.equal(denied.kind === "response" && denied.status, 403, "enforced from the delta");

    // The proxy now holds a version the control plane never sent: the next delta does not apply, and it asks for all.
    const held = web.sidecar.state()!;
    assert.deepEqual(web.sidecar.applyDelta({ version: 99_999, base: held.version, workload: "b/web", upsert: [], remove: [], endpoints: {}, names: {} }), { ack: true, version: 99_999 });
    f.store.commit({ upsert: [], remove: [{ kind: "AuthorizationPolicy", namespace: "b", name: "no-admin" }] });
    await waitUntil(() => f.audits.some((a) => a.event === "config-resync" && a.proxy === "b/web"));
    await waitUntil(() => cp.synced(["b/web", "a/client"]) && web.sidecar.state()!.version !== 99_999);
    assert.equal(applied("b/web").at(-1)!.delta, undefined, "the whole configuration answered the resync");
    assert.equal(web.sidecar.state()?.snapshot.resources.has("AuthorizationPolicy/b/no-admin"), false);
    const allowed = await get(client.sidecar.outboundAddress, "/admin");
    assert.equal(allowed.kind === "response" && allowed.status, 200);
  } finally {
    await f.stop([web, client], cp);
  }
});
