// Unmodified applications in pods: `python3 -m http.server` and plain `curl`, no HTTP_PROXY, as another user
// than the sidecar and without capabilities. Reachable from another pod only as policy allows (by identity, and
// by the caller's pod IP), never from the node around the sidecar; REGISTRY_ONLY holds for a client that ignores
// proxies; and the application cannot undo the capture or use its sidecar's ports itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connect } from "node:net";
import { meshYaml } from "../testing/helpers.js";
import { podFixture, podsUnavailable } from "../testing/pods.js";
import { waitUntil } from "../testing/control-plane.js";

const why = podsUnavailable();
const YAML = meshYaml([{ ns: "a", name: "sleep" }, { ns: "b", name: "web", port: 8080 }, { ns: "c", name: "intruder" }]);
const curl = (url: string, ...extra: string[]) => ["curl", "-s", "-w", "\\n%{http_code}", "-m", "5", ...extra, url];
const statusOf = (r: { out: string }) => r.out.trim().split("\n").at(-1);

test("pods: unmodified curl and python in pods, policy by identity and pod IP, REGISTRY_ONLY, no way around the sidecar", { skip: why, timeout: 120_000 }, async () => {
  const f = await podFixture(YAML, { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } });
  // Something on the node that pods could reach if nothing stopped them.
  const nodeServer = createServer((_q, s) => s.end("node service"));
  try {
    const started = Date.now();
    const sleep = await f.node.createPod("a/sleep");
    const web = await f.node.createPod("b/web");
    // Two requests for the same instance at once: one pod, and the refused one leaves the other's address alone.
    const twice = await Promise.allSettled([f.node.createPod("c/intruder"), f.node.createPod("c/intruder")]);
    assert.deepEqual(twice.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    assert.match(String((twice.find((r) => r.status === "rejected") as PromiseRejectedResult).reason), /already has a pod/);
    const intruder = (twice.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<{ ip: string }>).value;
    const app = f.serve("b/web", ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"]);
    await waitUntil(() => f.cp.synced(["a/sleep", "b/web", "c/intruder"]), 20_000);
    await waitUntil(async () => statusOf(await f.exec("a/sleep", curl("http://web.b:8080/"))) === "200", 10_000);
    const firstAllowedMs = Date.now() - started;

    // Policy: sleep and intruder are both named, but intruder's pod IP is excluded: the sidecar sees the real caller.
    await f.apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: b}
spec:
  selector: {matchLabels: {app: web}}
  rules: [{from: [{source: {principals: [cluster.local/ns/a/sa/sleep, cluster.local/ns/c/sa/intruder], notIpBlocks: ["${intruder.ip}/32"]}}]}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: b}
spec: {mtls: {mode: STRICT}}
`);
    const allowed = await f.exec("a/sleep", curl("http://web.b:8080/"));
    assert.equal(statusOf(allowed), "200", allowed.err);
    assert.match(allowed.out, /Directory listing/);
    for (const name of ["web", "web.b", "web.b.svc", "web.b.svc.cluster.local"]) {
      assert.equal(statusOf(await f.exec("a/sleep", curl(`http://${name}:8080/`))), name === "web" ? "000" : "200", `${name} from namespace a`);
    }
    const denied = await f.exec("c/intruder", curl("http://web.b:8080/"));
    assert.equal(statusOf(denied), "403", "the intruder's pod IP is what the policy sees");
    assert.match(denied.out, /RBAC: access denied/);
    // Straight to the pod's IP from another pod: no registered service has it, so REGISTRY_ONLY's HTTP catch-all answers.
    assert.equal(statusOf(await f.exec("c/intruder", curl(`http://${web.ip}:8080/`))), "502");

    // From the node: the pod's port is captured into its sidecar, which requires mTLS (STRICT): a reset, nothing served.
    const before = app.log.join("").split("\n").length;
    const fromNode = await new Promise<string>((resolve) => {
      const s = connect(8080, web.ip, () => s.write("GET / HTTP/1.1\r\nHost: web\r\n\r\n"));
      let got = "";
      s.on("data", (d) => (got += d));
      s.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
      s.on("close", () => resolve(got || "closed"));
    });
    assert.doesNotMatch(fromNode, /200 OK|Directory listing/, "the node never reaches the application around its sidecar");
    assert.equal(app.log.join("").split("\n").length, before, "the application saw nothing from the node");

    // REGISTRY_ONLY for a client that knows nothing of proxies: a server on the node's bridge address is not reachable.
    await new Promise<void>((r) => nodeServer.listen(18080, f.node.gateway, () => r()));
    const blocked = await f.exec("a/sleep", curl(`http://${f.node.gateway}:18080/`));
    assert.notEqual(statusOf(blocked), "200");
    assert.doesNotMatch(blocked.out, /node service/);
    assert.notEqual(statusOf(await f.exec("a/sleep", curl("http://203.0.113.7/"))), "200");

    // Each pod's application is a user of its own: another pod's cannot signal (nor trace) it, while its own pod's can.
    assert.notEqual(sleep.uid, web.uid);
    const signalled = await f.exec("a/sleep", ["kill", "-0", String(app.child.pid)]);
    assert.notEqual(signalled.code, 0);
    assert.match(signalled.err, /not permitted/);
    assert.equal((await f.exec("b/web", ["kill", "-0", String(app.child.pid)])).code, 0, "the same pod's user may");

    // The application cannot undo the capture, nor use its sidecar's outbound port itself.
    const flush = await f.exec("a/sleep", ["iptables", "-t", "nat", "-F"]);
    assert.notEqual(flush.code, 0, "no CAP_NET_ADMIN");
    assert.notEqual(statusOf(await f.exec("a/sleep", curl("http://web.b:8080/", "--proxy", "http://127.0.0.1:15001"))), "200", "15001 is not an HTTP proxy in a pod");
    assert.equal(statusOf(await f.exec("a/sleep", curl(`http://${sleep.ip}:15006/`))), "000", "nor is the inbound port usable directly");

    // DNS as Kubernetes answers it, inside the pod.
    const dig = await f.exec("a/sleep", ["getent", "hosts", "web.b.svc.cluster.local"]);
    assert.match(dig.out, /^10\.96\.\d+\.\d+\s+web\.b\.svc\.cluster\.local/);
    assert.ok(firstAllowedMs > 0);
    console.log(`# pods: three pods created and the first request allowed ${firstAllowedMs} ms after the first pod was asked for`);
  } finally {
    if (nodeServer.listening) nodeServer.close();
    await f.stop();
  }
});
