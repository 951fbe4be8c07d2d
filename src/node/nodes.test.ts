// The mesh across machines, on real kernels: three network namespaces on one LAN stand for the control plane's
// machine and two nodes (zeromesh node --join), each node with its own bridge, pod CIDR and pods. Unmodified
// applications (python3's http.server, curl) run from their manifests' commands. Across nodes a request is mTLS'd
// and authorized as a local one, by identity and by the caller's pod IP; the node itself never reaches an
// application around its sidecar; egress stays REGISTRY_ONLY; and a node that leaves takes its endpoints along.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PodInfo } from "./agent.js";
import { inPodAs } from "./pod-network.js";
import { machines } from "../testing/machines.js";
import { podsUnavailable, runToEnd } from "../testing/pods.js";
import { waitUntil } from "../testing/control-plane.js";
import { meshYaml } from "../testing/helpers.js";

const why = podsUnavailable();

/** Runs `argv` in a pod as its application; exit code and output. */
const inPod = (pod: PodInfo, argv: string[]) => runToEnd(inPodAs(pod.netns, pod.uid, pod.uid, argv), { PATH: "/usr/bin:/bin" }, 20_000);
const curl = (url: string) => ["curl", "-s", "-m", "5", "-w", "\n%{http_code}", url];
const statusOf = (r: { out: string }) => r.out.trim().split("\n").at(-1);

test("nodes: two machines join a control plane on a third; pods across them talk as policy allows, and a node that leaves takes its endpoints", { skip: why, timeout: 180_000 }, async () => {
  const lan = await machines(["cp", "m1", "m2"]);
  const dir = mkdtempSync(join(tmpdir(), "zm-nodes-"));
  mkdirSync(join(dir, "config"));
  const env = { ZEROMESH_STATE_DIR: join(dir, "state") };
  try {
    const cpAddress = lan.by("cp").address;
    // The control plane's machine runs pods of its own too (the workloads no manifest assigns to a node).
    const upArgs = ["up", "--json", "--pods", "--listen", cpAddress, "--port", "15012", "--admin-port", "0", "--no-gateways", "--config", join(dir, "config")];
    let cp = lan.zeromesh("cp", upArgs, { env });
    let admin = String((await cp.waitFor((l) => l.ready === true)).admin);
    const cli = (...args: string[]) => lan.run("cp", [process.execPath, lan.cli, ...args, "--admin", admin], { env });
    const [m1, m2] = [lan.nodeName("m1"), lan.nodeName("m2")];
    const joinFiles: Record<string, string> = {};
    for (const m of [m1, m2]) {
      joinFiles[m] = join(dir, `${m}.join`);
      const made = await cli("node-token", m, "--out", joinFiles[m]!);
      assert.equal(made.code, 0, made.err);
      assert.doesNotMatch(made.out, /"token"/, "the credential is written to the file, never printed");
    }
    const base = join(dir, "mesh.yaml");
    writeFileSync(base, `${meshYaml([
      { ns: "a", name: "sleep", node: m1, command: ["sleep", "3600"] },
      { ns: "a", name: "intruder", node: m1, command: ["sleep", "3600"] },
      { ns: "b", name: "web", port: 8080, node: m2, command: ["python3", "-m", "http.server", "8080"] },
    ])}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: b}
spec:
  selector: {app: api}
  ports: [{name: http, port: 9090}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: b}
spec: {mtls: {mode: STRICT}}
`);
    const applied = await cli("apply", "-f", base);
    assert.equal(applied.code, 0, applied.err);

    const started = Date.now();
    const nodes = Object.fromEntries([m1, m2].map((m, i) => [m, lan.zeromesh(i === 0 ? "m1" : "m2", ["node", "--join", `${cpAddress}:15012`, "--join-file", joinFiles[m]!])]));
    for (const n of Object.values(nodes)) await n.waitFor((l) => l.type === "ready");
    const pod = async (id: string) => (await nodes[id.startsWith("b/") ? m2 : m1]!.waitFor((l) => l.type === "pod" && l.id === id, 30_000)) as unknown as PodInfo;
    const [sleep, intruder, web] = [await pod("a/sleep"), await pod("a/intruder"), await pod("b/web")];
    assert.notEqual(sleep.ip.split(".")[2], web.ip.split(".")[2], "each node has its own pod CIDR");

    // Across nodes, mTLS (STRICT) from the sleep pod's sidecar on m1 to web's on m2.
    await waitUntil(async () => statusOf(await inPod(sleep, curl("http://web.b:8080/"))) === "200", 30_000).catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await inPod(sleep, curl("http://web.b:8080/")))}`); });
    console.log(`# nodes: two nodes joined and a cross-node request allowed ${Date.now() - started} ms after the nodes started`);
    const ok = await inPod(sleep, curl("http://web.b:8080/"));
    assert.match(ok.out, /Directory listing/);
    // A workload on the control plane's own machine (zeromesh run there), reached from a node's pod by route, and
    // `zeromesh run --node` on that node runs a command as the application of a pod the node made.
    const api = lan.zeromesh("cp", ["run", "--namespace", "b", "--name", "api", "--port", "9090", "--", "python3", "-m", "http.server", "9090"], { env: { ...env, ZEROMESH_ADMIN: admin } });
    await waitUntil(async () => statusOf(await inPod(sleep, curl("http://api.b:9090/"))) === "200", 30_000);
    const viaRun = await lan.run("m1", [process.execPath, lan.cli, "run", "--node", m1, "--namespace", "a", "--name", "sleep", "--", "curl", "-s", "-m", "5", "http://api.b:9090/"]);
    assert.match(viaRun.out, /Directory listing/, viaRun.err);
    await api.stop(10_000);

    // kubectl exec on the node: the node's own list of its pods.
    const viaExec = await lan.run("m1", [process.execPath, lan.cli, "exec", "--node", m1, "a/sleep", "--", "curl", "-s", "-m", "5", "http://web.b:8080/"]);
    assert.match(viaExec.out, /Directory listing/, viaExec.err);
    const status = JSON.parse((await cli("proxy-status", "-o", "json")).out) as { proxy: string; pod: string; node: string }[];
    assert.deepEqual(status.map((r) => [r.proxy, r.pod, r.node]).sort(), [["a/intruder", intruder.ip, m1], ["a/sleep", sleep.ip, m1], ["b/web", web.ip, m2]]);

    // Policy by identity and by the caller's pod IP, as the sidecar on the other node sees them.
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: b}
spec:
  selector: {matchLabels: {app: web}}
  rules: [{from: [{source: {principals: [cluster.local/ns/a/sa/sleep, cluster.local/ns/a/sa/intruder], notIpBlocks: ["${intruder.ip}/32"]}}]}]
`);
    assert.equal((await cli("apply", "-f", policy)).code, 0);
    await waitUntil(async () => statusOf(await inPod(intruder, curl("http://web.b:8080/"))) === "403", 10_000);
    assert.match((await inPod(intruder, curl("http://web.b:8080/"))).out, /RBAC: access denied/);
    assert.equal(statusOf(await inPod(sleep, curl("http://web.b:8080/"))), "200");

    // The node the web pod runs on reaches its application only through its sidecar: STRICT resets the plaintext.
    const fromNode = await lan.run("m2", ["curl", "-s", "-m", "5", "-w", "\n%{http_code}", `http://${web.ip}:8080/`]);
    assert.equal(statusOf(fromNode), "000");
    assert.doesNotMatch(fromNode.out, /Directory listing/);

    // Egress from a node's pod: ALLOW_ANY passes through to a server on the control plane's machine; REGISTRY_ONLY does not.
    lan.serve("cp", ["python3", "-m", "http.server", "18080", "--bind", cpAddress]);
    const outside = `http://${cpAddress}:18080/`;
    await waitUntil(async () => statusOf(await inPod(sleep, curl(outside))) === "200", 10_000);
    const meshConfig = join(dir, "mesh-config.yaml");
    writeFileSync(meshConfig, `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`);
    assert.equal((await cli("apply", "-f", meshConfig)).code, 0);
    await waitUntil(async () => statusOf(await inPod(sleep, curl(outside))) !== "200", 10_000);
    assert.doesNotMatch((await inPod(sleep, curl(outside))).out, /Directory listing/);
    const listed = JSON.parse((await cli("nodes", "-o", "json")).out) as { name: string; connected: boolean; podCidr: string }[];
    assert.deepEqual(listed.map((n) => [n.name, n.connected]), [[m1, true], [m2, true]]);

    // The control plane restarts (its applied configuration given again, as from a Git source): the nodes join again
    // with the same CIDRs, report their pods, and cross-node traffic resumes without a pod being made again.
    await cp.stop(10_000);
    cp = lan.zeromesh("cp", upArgs, { env });
    admin = String((await cp.waitFor((l) => l.ready === true)).admin);
    // Not waiting for the proxies: they come back as their nodes rejoin and report their pods again.
    const reapplied = await cli("apply", "--no-wait", "-f", base, "-f", policy, "-f", meshConfig);
    assert.equal(reapplied.code, 0, reapplied.err);
    await waitUntil(async () => statusOf(await inPod(sleep, curl("http://web.b:8080/"))) === "200", 30_000);
    assert.equal(statusOf(await inPod(intruder, curl("http://web.b:8080/"))), "403", "and policy with it");
    assert.ok(!nodes[m2]!.lines.some((l) => l.type === "pod-removed"), "no pod was made again");

    // The node that runs web leaves: its endpoints go with it at once, and the caller gets no healthy endpoint.
    await nodes[m2]!.stop(15_000);
    await waitUntil(async () => statusOf(await inPod(sleep, curl("http://web.b:8080/"))) === "503", 10_000);
    const after = JSON.parse((await cli("nodes", "-o", "json")).out) as { name: string; connected: boolean }[];
    assert.deepEqual(after.map((n) => [n.name, n.connected]), [[m1, true], [m2, false]]);
  } catch (e) {
    // What each machine's zeromesh said: the first place to look when this fails.
    throw new Error(`${(e as Error).message}\n${lan.logs()}`);
  } finally {
    await lan.destroy();
  }
});
