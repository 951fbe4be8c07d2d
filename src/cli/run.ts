// `zeromesh run`: an application with its sidecar on this machine. The
// workload joins the mesh as a WorkloadEntry. Where the control plane runs
// pods, the application runs unmodified in one (its own network namespace,
// traffic captured, as the pod's own user without capabilities). Otherwise (--loopback, or
// no pods here: said loudly) its outbound traffic goes through the sidecar only
// because it honours HTTP_PROXY, and nothing isolates it. On a node (`--node NAME`, where `zeromesh node` runs), the
// workload is one its manifest assigns to that node: the application runs in the pod the node made for it.
import { spawn } from "node:child_process";
import { stringify } from "yaml";
import { loadSettings } from "../config/settings.js";
import { ProxyAgent } from "../proxy/agent.js";
import { loopbackAddressFor } from "../registry/registry.js";
import { adminCall, adminClient } from "./admin.js";
import type { PodInfo } from "../node/agent.js";
import { inPodAs } from "../node/pod-network.js";
import { readNodePods } from "../node/pods-file.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh run --namespace NS --name NAME [--service-account SA] [--labels k=v,...] --port P... [--admin HOST:PORT] [--access-log stdout|off] [--loopback | --node NAME] -- COMMAND [ARGS...]";

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const dash = argv.indexOf("--");
  const { values } = parse(dash >= 0 ? argv.slice(0, dash) : argv, {
    namespace: { type: "string" }, name: { type: "string" }, "service-account": { type: "string" }, labels: { type: "string" },
    port: { type: "string", multiple: true }, admin: { type: "string" }, "access-log": { type: "string" }, loopback: { type: "boolean" },
    node: { type: "string" },
  }, USAGE);
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  if (!values.namespace || !values.name || !command.length) return io.usage(USAGE);
  if (values.node) {
    // A node takes no configuration from its machine: the workload (its identity, ports, Services) is its manifest's.
    if (values.loopback || values.admin || values.port || values.labels || values["service-account"]) return io.usage(USAGE);
    const id = `${values.namespace}/${values.name}`;
    const pod = readNodePods(values.node).find((p) => p.id === id);
    if (!pod) {
      io.err(`zeromesh: ${id} has no pod on node ${values.node}: its manifest must name the node (spec.nodeName: ${values.node})`);
      return 1;
    }
    io.err(`zeromesh: ${id} in its pod on node ${values.node} at ${pod.ip}`);
    return runInPod(pod, command, { ZEROMESH_WORKLOAD: id, ZEROMESH_ADDRESS: pod.ip }, io);
  }
  const settings = loadSettings();
  const admin = adminClient(values.admin);
  const id = `${values.namespace}/${values.name}`;
  const ports = (values.port ?? []).map(Number);
  if (ports.some((p) => !(p >= 1 && p <= 65535))) return io.usage(USAGE);
  const labels = Object.fromEntries((values.labels ?? "").split(",").filter(Boolean).map((kv) => kv.split("=") as [string, string]));
  const address = loopbackAddressFor(id);
  const sa = values["service-account"] ?? "default";
  const entry = {
    apiVersion: "networking.istio.io/v1", kind: "WorkloadEntry",
    metadata: { name: values.name, namespace: values.namespace },
    spec: { address, labels: { app: values.name, ...labels }, serviceAccount: sa, ports: Object.fromEntries(ports.map((p) => [`port-${p}`, p])) },
  };
  await adminCall(admin, "POST", "/v1/apply", { files: [{ file: `zeromesh run ${id}`, text: stringify(entry) }], cause: `zeromesh run ${id}` });
  const removeEntry = () => adminCall(admin, "POST", "/v1/apply", { files: [], remove: [{ kind: "WorkloadEntry", namespace: values.namespace!, name: values.name! }], cause: `zeromesh run ${id} exited` }).catch(() => {});
  if (!values.loopback) {
    const pod = await adminCall<PodInfo>(admin, "POST", "/v1/pods", { workload: id }).catch((e: Error) => e);
    if (!(pod instanceof Error)) {
      io.err(`zeromesh: ${id} in a pod at ${pod.ip} (network namespace ${pod.netns}); its traffic is captured by its sidecar; application ports ${ports.join(", ") || "none"}`);
      const code = await runInPod(pod, command, { ZEROMESH_WORKLOAD: id, ZEROMESH_ADDRESS: pod.ip }, io);
      await adminCall(admin, "POST", "/v1/pods/delete", { workload: id }).catch(() => {});
      await removeEntry();
      return code;
    }
    io.err(`zeromesh: WARNING: no pod for ${id} (${pod.message}); running it in LOOPBACK mode: it is NOT isolated, and only a client that honours HTTP_PROXY goes through its sidecar`);
  }
  const boot = await adminCall<{ token: string; spiffe: string; control: string; rootPem: string }>(admin, "POST", "/v1/bootstrap", { workload: id });
  const agent = new ProxyAgent({
    control: boot.control, rootPem: boot.rootPem, token: boot.token, spiffe: boot.spiffe, rotateAt: settings.rotateAt,
    sidecar: {
      id, address, ports, apps: Object.fromEntries(ports.map((p) => [p, { host: "127.0.0.1", port: p }])),
      log: values["access-log"] === "off" ? undefined : (e) => io.err(JSON.stringify({ type: "access", ...e })),
    },
  });
  await agent.start();
  for (const m of agent.sidecar.moved) io.err(`zeromesh: ${id}: ${m}`);
  const proxy = `http://${agent.sidecar.outboundAddress}`;
  io.err(`zeromesh: ${id} (${boot.spiffe}) at ${address}; sidecar proxy ${proxy}; application ports ${ports.join(", ") || "none"} on 127.0.0.1`);
  const code = await runChild(command, command[0]!, { ...process.env, HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy, NO_PROXY: "", ZEROMESH_WORKLOAD: id, ZEROMESH_ADDRESS: address }, io);
  await agent.stop();
  await removeEntry();
  return code;
}

const POD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Runs `command` in the pod as its application (the pod's own user, no capabilities), with this terminal; its exit code. */
export function runInPod(pod: Pick<PodInfo, "netns" | "uid">, command: string[], env: Record<string, string>, io: Io): Promise<number> {
  // A container's environment, not the caller's: its PATH may lead into directories only the caller can read.
  return runChild(inPodAs(pod.netns, pod.uid, pod.uid, command), `${command[0]} in the pod`, { PATH: POD_PATH, HOME: "/tmp", TERM: process.env.TERM ?? "dumb", ...env }, io);
}

/** Runs `argv` with this terminal, passing on SIGINT and SIGTERM; its exit code (128 when a signal ended it, 127 when it could not start). */
function runChild(argv: string[], what: string, env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit", env });
  return new Promise<number>((resolve) => {
    const stop = () => child.kill("SIGTERM");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    child.on("exit", (c, sig) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(c ?? (sig ? 128 : 1));
    });
    child.on("error", (e) => {
      io.err(`zeromesh: cannot start ${what}: ${e.message}`);
      resolve(127);
    });
  });
}
