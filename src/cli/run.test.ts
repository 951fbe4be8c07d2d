// `zeromesh up` and two `zeromesh run` workloads as real processes: the
// application's traffic goes through its sidecar, over mTLS, under policy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdminClient } from "../control/admin-client.js";
import { readAdminToken } from "../control/admin-credential.js";
import { MeshProcess } from "../scenario/processes.js";
import { runCli } from "../testing/cli.js";



test("run: an application with its sidecar joins the mesh; calls go through mTLS and policy", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-run-"));
  const cp = new MeshProcess("control plane", ["up", "--json", "--state-dir", dir, "--port", "0", "--admin-port", "0", "--loopback"]);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  let server: MeshProcess | undefined;
  try {
    const ready = await cp.waitFor((l) => l.ready === true);
    const env = { ZEROMESH_ADMIN: String(ready.admin), ZEROMESH_ADMIN_TOKEN_FILE: String(ready.adminTokenFile) };
    const admin = new AdminClient(env.ZEROMESH_ADMIN, readAdminToken(env.ZEROMESH_ADMIN_TOKEN_FILE));
    const apply = (text: string) => admin.call("POST", "/v1/apply", { files: [{ file: "test.yaml", text }] });
    assert.equal((await apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: hello, namespace: demo}\nspec: {selector: {app: hello}, ports: [{name: http, port: ${port}}]}`)).status, 200);

    const serverJs = `require("http").createServer((q, s) => s.end("hello from " + (q.headers["x-forwarded-client-cert"] || "nobody"))).listen(${port}, "127.0.0.1")`;
    server = new MeshProcess("server", ["run", "--admin", env.ZEROMESH_ADMIN, "--namespace", "demo", "--name", "hello", "--service-account", "hello", "--port", String(port), "--access-log", "off", "--", process.execPath, "-e", serverJs], { env });
    const clientJs = `const u = new URL(process.env.HTTP_PROXY); require("http").get({ host: u.hostname, port: u.port, path: "http://hello.demo:${port}/", headers: { host: "hello.demo:${port}" } }, (r) => { let b = ""; r.on("data", (d) => (b += d)); r.on("end", () => { console.log(r.statusCode, b); }); }).on("error", (e) => console.log("error", e.code));`;
    const clientArgs = ["run", "--namespace", "demo", "--name", "client", "--access-log", "off", "--", process.execPath, "-e", clientJs];

    // The server's sidecar needs its certificate and config before the first call succeeds.
    let first = await runCli(clientArgs, env);
    for (let i = 0; i < 50 && !first.out.startsWith("200"); i++) first = await runCli(clientArgs, env);
    assert.match(first.out, /^200 hello from By=spiffe:\/\/cluster\.local\/ns\/demo\/sa\/hello;URI=spiffe:\/\/cluster\.local\/ns\/demo\/sa\/default/);

    assert.equal((await apply(`apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: no-default, namespace: demo}\nspec:\n  selector: {matchLabels: {app: hello}}\n  action: DENY\n  rules: [{from: [{source: {principals: ["cluster.local/ns/demo/sa/default"]}}]}]`)).status, 200);
    let denied = await runCli(clientArgs, env);
    for (let i = 0; i < 50 && !denied.out.startsWith("403"); i++) denied = await runCli(clientArgs, env);
    assert.match(denied.out, /^403 RBAC: access denied/);
    writeFileSync(join(dir, "done"), "");
  } finally {
    await server?.stop();
    await cp.stop();
  }
});
