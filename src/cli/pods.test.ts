// `zeromesh up` with pods (the default where this process may make them), `zeromesh run` putting unmodified
// applications in pods, `zeromesh exec` into one, and proxy-status naming each pod's address: as processes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MeshProcess } from "../scenario/processes.js";
import { runCli } from "../testing/cli.js";
import { podsUnavailable } from "../testing/pods.js";



test("pods from the CLI: up runs pods, run puts python and curl in them unmodified, exec enters one, proxy-status shows pod IPs", { skip: podsUnavailable(), timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-cli-pods-"));
  const up = new MeshProcess("control plane", ["up", "--json", "--state-dir", dir, "--port", "0", "--admin-port", "0", "--no-gateways"]);
  let web: MeshProcess | undefined;
  let bridge = "";
  try {
    const ready = await up.waitFor((l) => l.ready === true, 20_000);
    assert.ok(ready.pods, `up runs pods here: ${JSON.stringify(ready.pods)}`);
    const env = { ZEROMESH_ADMIN: String(ready.admin), ZEROMESH_ADMIN_TOKEN_FILE: String(ready.adminTokenFile) };
    const ns = `apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo}\nspec: {selector: {app: web}, ports: [{name: http, port: 8080}]}\n`;
    writeFileSync(join(dir, "ns.yaml"), ns);
    assert.equal((await runCli(["apply", "-f", join(dir, "ns.yaml")], env)).code, 0);

    web = new MeshProcess("web", ["run", "--namespace", "demo", "--name", "web", "--port", "8080", "--", "python3", "-m", "http.server", "8080"], { env });
    // The client: plain curl, no proxy settings, by the Service's name.
    let got = { code: 1, out: "", err: "" };
    for (let i = 0; i < 40 && !got.out.endsWith("200"); i++) {
      got = await runCli(["run", "--namespace", "demo", "--name", "client", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3", "http://web.demo:8080/"], env);
      if (!got.out.endsWith("200")) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(got.out, "200", got.err);
    assert.match(got.err, /demo\/client in a pod at 10\.244\.\d+\.\d+/);

    const status = await runCli(["proxy-status"], env);
    assert.match(status.out, /demo\/web\s+10\.244\.\d+\.\d+\s+-\s+yes\s+SYNCED/, status.out);
    const inside = await runCli(["exec", "demo/web", "--", "sh", "-c", "id -u; ip -4 -o addr show eth0; cat /etc/resolv.conf"], env);
    assert.equal(inside.code, 0, inside.err);
    const uid = Number(inside.out.split("\n")[0]);
    assert.ok(uid >= 200_000 && uid !== 1337, `as the pod's own user, not root nor the sidecar's (${uid})`);
    assert.match(inside.out, /eth0\s+inet 10\.244\.\d+\.\d+\/24/);
    assert.match(inside.out, /search demo\.svc\.cluster\.local svc\.cluster\.local cluster\.local/);
    const missing = await runCli(["exec", "demo/nothing", "--", "true"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /demo\/nothing has no pod on this machine \(pods: demo\/web\)/);
    bridge = String((ready.pods as { gateway: string }).gateway);
  } finally {
    await web?.stop();
    // It removes its pods and its bridge before it exits.
    await up.stop(20_000);
  }
  // Nothing of the node's network is left: no namespace, no bridge with its address.
  const { execFileSync } = await import("node:child_process");
  assert.doesNotMatch(execFileSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" }), new RegExp(`inet ${bridge.replace(/\./g, "\\.")}/`));
});
