// What the scenario runner does in pod mode beyond the node agent's pods: the stand-in applications as processes
// inside a pod, probes sent from inside the client's pod, and addresses for the scenario's external hosts that
// pods reach through the node (the "internet": 198.18.0.0/15, the benchmarking range no real host holds).
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { AppSpec } from "../cli/app.js";
import type { PodInfo } from "../node/agent.js";
import { inPodAs, sh } from "../node/pod-network.js";
import type { Outcome } from "../policy/decision.js";
import { PROJECT_ROOT } from "../paths.js";
import type { ClientRequest, Route } from "./client.js";
import { MeshProcess } from "./processes.js";

const POD_CLIENT = join(PROJECT_ROOT, "dist", "scenario", "pod-client.js");
/** Longer than the client's own timeout: the process is killed only if it hangs past it. */
const POD_CLIENT_KILL_MS = 15_000;

/** A workload's stand-in ports as one process in its pod, as the application's user; resolves once it listens. */
export async function appsInPod(pod: Pick<PodInfo, "netns" | "uid">, spec: AppSpec): Promise<MeshProcess> {
  const app = new MeshProcess(`app ${spec.namespace}/${spec.workload}`, ["app", "--spec", "-"], { stdin: JSON.stringify(spec), wrap: inPodAs(pod.netns, pod.uid, pod.uid, []) });
  await app.waitFor((l) => l.type === "ready");
  return app;
}

/** Sends one probe from inside a pod, as its application would (its DNS, its capture, its pod IP). */
export function sendFromPod(pod: Pick<PodInfo, "netns" | "uid">, request: ClientRequest, route: Route): Promise<Outcome> {
  return new Promise((resolve) => {
    const argv = inPodAs(pod.netns, pod.uid, pod.uid, [process.execPath, POD_CLIENT]);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), POD_CLIENT_KILL_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as Outcome);
      } catch {
        resolve({ kind: "error", error: "client", detail: `the probe client in the pod exited (${code}): ${err.trim().split("\n").slice(-3).join(" | ")}` });
      }
    });
    child.stdin.on("error", () => {}).end(JSON.stringify({ request, route }));
  });
}

/** `count` addresses for outside hosts on the node's loopback device, in a /24 of 198.18.0.0/15 nothing else here uses. */
export async function outsideAddresses(count: number): Promise<{ addresses: string[]; release(): Promise<void> }> {
  const used = await sh("ip", ["-4", "-o", "addr", "show"]);
  const start = process.pid % 200;
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 256;
    if (used.includes(`198.18.${n}.`)) continue;
    const addresses = Array.from({ length: count }, (_, k) => `198.18.${n}.${k + 1}`);
    const added: string[] = [];
    const release = async () => {
      for (const a of added.splice(0)) await sh("ip", ["addr", "del", `${a}/32`, "dev", "lo"]).catch(() => {});
    };
    try {
      for (const a of addresses) {
        await sh("ip", ["addr", "add", `${a}/32`, "dev", "lo"]);
        added.push(a);
      }
    } catch (e) {
      await release();
      throw e;
    }
    return { addresses, release };
  }
  throw new Error("no free /24 in 198.18.0.0/16 for the scenario's outside hosts");
}
