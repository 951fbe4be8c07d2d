// The pod-mode pair for `npm run bench`: the same two sidecars as the loopback row, but each in a pod whose
// traffic iptables captures (no HTTP_PROXY), the stand-in server in the server's pod, and wrk in the client's pod
// calling the Service by name. Needs what pods need (node/available.ts); the row is left out, with the reason, otherwise.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { adminCall } from "../cli/admin.js";
import { AdminClient } from "../control/admin-client.js";
import { readAdminToken } from "../control/admin-credential.js";
import { PROJECT_ROOT } from "../paths.js";
import { MeshProcess } from "../scenario/processes.js";
import type { Target } from "./load.js";

const CLI = join(PROJECT_ROOT, "dist", "cli", "main.js");

export async function startPodPair(dir: string, config: string): Promise<{ target: Target; pids: number[]; startMs: number; stop: () => Promise<void> }> {
  const state = join(dir, "pods-state");
  mkdirSync(join(state, "config"), { recursive: true, mode: 0o700 });
  // The server's application is its pod's command, which the node agent starts beside the sidecar, as a kubelet would.
  const serverSpec = "spec: {containers: [{name: s, image: s, ports: [{containerPort: 8080}]}]}";
  if (!config.includes(serverSpec)) throw new Error("the bench configuration's server pod is not the one the pod pair knows");
  const command = JSON.stringify([process.execPath, CLI, "app", "--name", "server", "--namespace", "bench", "--host", "0.0.0.0", "--port", "8080"]);
  writeFileSync(join(state, "config", "bench.yaml"), config.replace(serverSpec, `spec: {containers: [{name: s, image: s, command: ${command}, ports: [{containerPort: 8080}]}]}`));
  const up = new MeshProcess("pod control plane", ["up", "--json", "--pods", "--no-gateways", "--state-dir", state, "--port", "0", "--admin-port", "0"]);
  const stop = () => up.stop(20_000); // it removes its pods (their applications too) and bridge first
  try {
    const ready = await up.waitFor((l) => l.ready === true, 20_000);
    const admin = new AdminClient(String(ready.admin), readAdminToken(String(ready.adminTokenFile)));
    const started = Date.now();
    // Both pods at once, as a scheduler starts a Deployment's pods.
    const [, client] = await Promise.all(["bench/server", "bench/client"].map((workload) => adminCall<{ netns: string }>(admin, "POST", "/v1/pods", { workload })));
    const wrap = ["ip", "netns", "exec", client.netns];
    // Pod start to the first allowed request: both pods, their sidecars' certificates and configuration, the server up.
    for (;;) {
      // Until the server's application listens its sidecar resets the connection (curl exits non-zero): try again.
      const code = spawnSync(wrap[0]!, [...wrap.slice(1), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", "http://server.bench:8080/"], { encoding: "utf8" }).stdout;
      if (code === "200") break;
      if (Date.now() - started > 20_000) throw new Error(`the pod pair did not answer 200 (last ${code})`);
    }
    const startMs = Date.now() - started;
    const pids = ["bench/client", "bench/server"].map((id) => Number(execFileSync("pgrep", ["-f", `proxy --workload ${id} .*--capture`], { encoding: "utf8" }).trim().split("\n")[0]));
    return { target: { host: "server.bench", port: 8080, path: "/", hostHeader: "server.bench:8080", wrap }, pids, startMs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
