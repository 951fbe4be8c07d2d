// `zeromesh up` starts the gateways its configuration directory declares.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loopbackAddressFor } from "../registry/registry.js";
import { send } from "../scenario/client.js";
import { MeshProcess } from "../scenario/processes.js";

/** The process id of the gateway proxy `up` launched for a workload, from /proc. */
function gatewayPid(workload: string): number | undefined {
  for (const d of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (argv.includes("--gateway") && argv[argv.indexOf("--workload") + 1] === workload) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const CONFIG = `apiVersion: v1
kind: Namespace
metadata: {name: edge}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: public, namespace: edge}
spec:
  selector: {matchLabels: {gw: public}}
  template:
    metadata: {labels: {gw: public}, annotations: {inject.istio.io/templates: gateway}}
    spec: {containers: [{name: istio-proxy, image: auto}]}
---
apiVersion: v1
kind: Service
metadata: {name: public, namespace: edge}
spec: {selector: {gw: public}, ports: [{name: http, port: 80, targetPort: 18080}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec: {selector: {gw: public}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hello, namespace: edge}
spec: {hosts: ["hello.example.com"], gateways: [public], http: [{directResponse: {status: 200, body: {string: "hello from the gateway"}}}]}
`;

test("up: gateways declared in the configuration are started, started again when they die, and stopped when removed", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-upgw-"));
  mkdirSync(join(dir, "config"));
  writeFileSync(join(dir, "config", "edge.yaml"), CONFIG);
  const up = new MeshProcess("control plane", ["up", "--json", "--state-dir", dir, "--config", join(dir, "config"), "--port", "0", "--admin-port", "0", "--loopback"]);
  try {
    await up.waitFor((l) => l.ready === true);
    const route = { direct: { host: loopbackAddressFor("edge/public"), port: 18080 } };
    const req = { scheme: "http" as const, host: "hello.example.com", port: 80, method: "GET", path: "/", headers: {} };
    let r = await send(req, route);
    for (let i = 0; i < 100 && !(r.kind === "response" && r.status === 200); i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await send(req, route);
    }
    assert.deepEqual(r.kind === "response" && [r.status, r.body], [200, "hello from the gateway"]);
    const other = await send({ ...req, host: "other.example.com" }, route);
    assert.equal(other.kind === "response" ? other.status : other.kind, 404);

    // A gateway that dies (killed, crashed) is started again, as a Deployment's pod would be.
    const pid = gatewayPid("edge/public");
    assert.ok(pid, "the gateway runs as a process of its own");
    // Its bootstrap credential came down a pipe: nothing on its command line, which every local user reads.
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    assert.equal(argv[argv.indexOf("--token-file") + 1], "-");
    assert.deepEqual(argv.filter((a) => /^[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{20,}$/.test(a)), [], argv.join(" "));
    process.kill(pid, "SIGKILL");
    let back = await send(req, route);
    for (let i = 0; i < 100 && !(back.kind === "response" && back.status === 200 && gatewayPid("edge/public") !== pid); i++) {
      await new Promise((res) => setTimeout(res, 100));
      back = await send(req, route);
    }
    assert.deepEqual(back.kind === "response" && [back.status, back.body], [200, "hello from the gateway"], "it serves again");
    assert.notEqual(gatewayPid("edge/public"), pid, "from a new process");

    writeFileSync(join(dir, "config", "edge.yaml"), CONFIG.split("---\napiVersion: apps/v1")[0]!);
    let gone = await send(req, route);
    for (let i = 0; i < 100 && !(gone.kind === "error" && gone.error === "refused"); i++) {
      await new Promise((res) => setTimeout(res, 100));
      gone = await send(req, route);
    }
    assert.deepEqual(gone, { kind: "error", error: "refused" }, "the gateway stopped with its Deployment");
  } finally {
    await up.stop();
  }
});
