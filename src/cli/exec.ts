// `zeromesh exec NS/WORKLOAD -- COMMAND`: a command inside a running workload's pod, as `kubectl exec` does: its
// network namespace, DNS and capture, as the application's user without capabilities.
import { adminCall, adminClient } from "./admin.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";
import { runInPod } from "./run.js";
import { readNodePods } from "../node/pods-file.js";
import type { PodInfo } from "../node/agent.js";

const USAGE = "zeromesh exec [--admin HOST:PORT | --node NAME] NS/WORKLOAD -- COMMAND [ARGS...]";

export async function execCommand(argv: string[], io: Io): Promise<number> {
  const dash = argv.indexOf("--");
  const { values, positionals } = parse(dash >= 0 ? argv.slice(0, dash) : argv, { admin: { type: "string" }, node: { type: "string" } }, USAGE);
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const target = positionals[0];
  if (!target || positionals.length !== 1 || !command.length || (values.admin && values.node)) return io.usage(USAGE);
  // On a node (zeromesh node), its agent's list of pods; on the control plane's machine, its admin API's.
  const pods = values.node ? readNodePods(values.node) : await adminCall<PodInfo[]>(adminClient(values.admin), "GET", "/v1/pods");
  // An instance ("ns/name-1"), or the first instance of a workload ("ns/name").
  const pod = pods.find((p) => p.id === target) ?? pods.filter((p) => p.id.startsWith(`${target}-`)).sort((a, b) => a.id.localeCompare(b.id))[0];
  if (!pod) {
    io.err(`zeromesh: ${target} has no pod on this machine (pods: ${pods.map((p) => p.id).join(", ") || "none"})`);
    return 1;
  }
  return runInPod(pod, command, { ZEROMESH_WORKLOAD: pod.id, ZEROMESH_ADDRESS: pod.ip }, io);
}
