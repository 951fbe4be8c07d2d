// A deny probe must not pass because a proxy crashed: a reset from a dead sidecar is no policy's decision.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LiveMesh } from "./live-runner.js";
import { parseScenario } from "./parse.js";
import { execFileSync } from "node:child_process";
import { podsUnavailable } from "../testing/pods.js";

const SCENARIO = `
name: crash
mesh: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
resources: |
  apiVersion: v1
  kind: Namespace
  metadata: {name: a, labels: {istio-injection: enabled}}
  ---
  apiVersion: apps/v1
  kind: Deployment
  metadata: {name: client, namespace: a}
  spec:
    selector: {matchLabels: {app: client}}
    template:
      metadata: {labels: {app: client}}
      spec: {containers: [{name: c, image: curl}]}
steps:
  - name: blocked
    probes:
      - {name: an unknown host is reset, from: a/client, url: "tcp://unknown.example.com:5432", send: x, expect: {error: reset}}
`;

test("live runner: a probe expecting a reset fails when the proxy that would refuse it has died", { timeout: 60_000 }, async () => {
  const mesh = new LiveMesh(parseScenario(SCENARIO, "crash.yaml", process.cwd(), []));
  try {
    await mesh.start();
    const before = await mesh.runSteps();
    assert.deepEqual(before.map((r) => r.pass), [true], "refused by design while the sidecar runs");
    process.kill(mesh.sidecarPids()["a/client"]!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    const after = await mesh.runSteps();
    assert.equal(after[0]!.pass, false, "the same probe fails once the sidecar is dead");
    assert.match(after[0]!.seen ?? "", /sidecar a\/client exited unexpectedly \(signal SIGKILL\)/);
  } finally {
    await mesh.stop();
  }
});

test("live runner in pods: a sidecar that died under the node agent fails the probe, and says so", { skip: podsUnavailable(), timeout: 60_000 }, async () => {
  const mesh = new LiveMesh(parseScenario(SCENARIO, "crash.yaml", process.cwd(), []), { mode: "pods" });
  try {
    await mesh.start();
    assert.deepEqual((await mesh.runSteps()).map((r) => r.pass), [true]);
    const pid = Number(execFileSync("pgrep", ["-f", `proxy --workload a/client .*--capture`], { encoding: "utf8" }).trim().split("\n")[0]);
    process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    const after = await mesh.runSteps();
    assert.equal(after[0]!.pass, false);
    assert.match(after[0]!.seen ?? "", /the sidecar of a\/client is no longer connected/);
  } finally {
    await mesh.stop();
  }
});
