// `zeromesh apply` is a security promise: when it returns, the policy it added is enforced by every proxy the
// change affects. A proxy that does not acknowledge is named (exit 1); a proxy that died is not shown as SYNCED.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect as h2connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../cli/main.js";
import { send } from "../scenario/client.js";
import { controlCall, controlFixture, csrFor, io, waitUntil } from "../testing/control-plane.js";

const MUTE = `
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: mute, namespace: b}
spec:
  selector: {matchLabels: {app: mute}}
  template:
    metadata: {labels: {app: mute}}
    spec: {serviceAccountName: mute, containers: [{name: m, image: m, ports: [{containerPort: 9000}]}]}
`;
const DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: b}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin"]}}]}]
`;

test("attack: a request sent the moment apply returns meets the policy it applied; a proxy that does not acknowledge fails the apply", { timeout: 90_000 }, async () => {
  const f = await controlFixture({ extraYaml: MUTE });
  const cp = await f.open();
  const web = f.agent("b/web", cp.address, f.rootPem, cp.issueBootstrap("b/web"));
  const client = f.agent("a/client", cp.address, f.rootPem, cp.issueBootstrap("a/client"));
  const dir = mkdtempSync(join(tmpdir(), "zm-apply-"));
  const file = join(dir, "deny.yaml");
  writeFileSync(file, DENY);
  let mute: ReturnType<typeof h2connect> | undefined;
  try {
    await Promise.all([web.start(), client.start()]);
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    f.cliEnv(cp);
    const [host, port] = client.sidecar.outboundAddress.split(":");
    const admin = () => send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/admin", headers: {} }, { proxy: { host: host!, port: Number(port) } }).then((r) => (r.kind === "response" ? r.status : r.kind));
    for (let i = 0; i < 5; i++) {
      const a = io();
      assert.equal(await run(["apply", "-f", file], a.io), 0, a.err.join("\n"));
      assert.match(a.out.join("\n"), /enforced by 1 proxy it changes: b\/web/, "the client's configuration does not change: only web is waited for");
      assert.equal(await admin(), 403, `round ${i}: the DENY is enforced the moment apply returns`);
      const d = io();
      assert.equal(await run(["delete", "-f", file], d.io), 0, d.err.join("\n"));
      assert.equal(await admin(), 200, `round ${i}: and gone the moment delete returns`);
    }

    // b/mute: a proxy speaking the stream protocol by hand, acknowledging what it is sent only while `acking`.
    const key = await csrFor("spiffe://cluster.local/ns/b/sa/mute");
    const issued = JSON.parse((await controlCall(cp.address, f.rootPem, "/v1/certificate", { authorization: `Bearer ${cp.issueBootstrap("b/mute")}` }, key.body)).body) as { certPem: string; chainPem: string };
    const status = async () => (await f.admin(cp).call<{ proxy: string; status: string }[]>("GET", "/v1/proxy-status")).body.find((p) => p.proxy === "b/mute")?.status;
    const open = (acking: boolean) => {
      const session = h2connect(`https://${cp.address}`, { ca: f.rootPem, cert: issued.certPem + issued.chainPem, key: key.keyPem, checkServerIdentity: () => undefined });
      session.on("error", () => {});
      const stream = session.request({ ":method": "POST", ":path": "/v1/stream", "x-zeromesh-workload": "b/mute" }, { endStream: false });
      stream.on("error", () => {});
      let buf = "";
      stream.setEncoding("utf8").on("data", (c: string) => {
        buf += c;
        for (let nl; (nl = buf.indexOf("\n")) >= 0; buf = buf.slice(nl + 1)) {
          const m = JSON.parse(buf.slice(0, nl)) as { config: { version: number } };
          if (acking) stream.write(JSON.stringify({ type: "ack", version: m.config.version }) + "\n");
        }
      });
      stream.write(JSON.stringify({ type: "hello", listeners: { "9000": `${f.reg.workload("b/mute")!.address}:9000` } }) + "\n");
      return session;
    };
    // A proxy that dies is not SYNCED, whatever it acknowledged last.
    mute = open(true);
    await waitUntil(async () => (await status()) === "SYNCED");
    mute.destroy();
    await waitUntil(async () => (await status()) === "DISCONNECTED");

    // A proxy that takes its configuration and never acknowledges it: apply names it and exits 1.
    mute = open(false);
    await waitUntil(async () => (await status()) === "STALE" || (await status()) === "NOT SENT");
    const muteFile = join(dir, "mute.yaml");
    writeFileSync(muteFile, DENY.replace("app: web", "app: mute").replace("no-admin", "no-admin-mute"));
    const m = io();
    assert.equal(await run(["apply", "-f", muteFile, "--timeout", "1s"], m.io), 1);
    assert.match(m.err.join("\n"), /not acknowledged within 1s by: b\/mute/);
    assert.doesNotMatch(m.err.join("\n"), /b\/web|a\/client/, "the proxies that acknowledged are not named");
  } finally {
    mute?.destroy();
    await f.stop([web, client], cp);
  }
});
