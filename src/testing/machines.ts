// Several "machines" on one host, for the multi-node tests: each a network namespace with its own address on a
// shared LAN (a bridge inside a namespace of its own, so the host's network is never touched), its processes
// started inside it. Everything made is removed by destroy(), which never throws.
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { removeStalePods, sh } from "../node/pod-network.js";
import { nodeRunDir } from "../node/agent.js";
import { runToEnd } from "./pods.js";
import { PROJECT_ROOT } from "../paths.js";
import { MeshProcess } from "../scenario/processes.js";

export interface Machine {
  name: string;
  netns: string;
  address: string;
}

let made = 0;

/** A LAN 192.168.N.0/24 with one machine per name (addresses .1, .2, … in order). */
export async function machines(names: string[]) {
  const n = (process.pid * 3 + made++) % 200 + 20;
  const tag = `zmt${n}`;
  const lan = `${tag}-lan`;
  const list: Machine[] = names.map((name, i) => ({ name, netns: `${tag}-${name}`, address: `192.168.${n}.${i + 1}` }));
  const processes: (MeshProcess | ChildProcess)[] = [];
  const destroy = async () => {
    for (const p of processes) p instanceof MeshProcess ? await p.stop(10_000) : p.kill("SIGKILL");
    for (const m of list) {
      // Pods a node agent left behind (it failed, or was killed) are named after its node: the machine's name.
      await removeStalePods({ node: `${tag}-${m.name}`, podCidr: "10.244.0.0/24" }).catch(() => {});
      rmSync(nodeRunDir(`${tag}-${m.name}`), { recursive: true, force: true });
      await sh("ip", ["netns", "del", m.netns]).catch(() => {});
    }
    await sh("ip", ["netns", "del", lan]).catch(() => {});
  };
  try {
    await sh("ip", ["netns", "add", lan]);
    await sh("ip", ["-n", lan, "link", "add", "lan0", "type", "bridge"]);
    await sh("ip", ["-n", lan, "link", "set", "lan0", "up"]);
    for (const [i, m] of list.entries()) {
      await sh("ip", ["netns", "add", m.netns]);
      const port = `p${i}`;
      await sh("ip", ["-n", lan, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", m.netns]);
      await sh("ip", ["-n", lan, "link", "set", port, "master", "lan0", "up"]);
      await sh("ip", ["-n", m.netns, "link", "set", "lo", "up"]);
      await sh("ip", ["-n", m.netns, "addr", "add", `${m.address}/24`, "dev", "eth0"]);
      await sh("ip", ["-n", m.netns, "link", "set", "eth0", "up"]);
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  const by = (name: string) => list.find((m) => m.name === name)!;
  // Into the machine's network namespace only (not `ip netns exec`, which also gives the process a mount namespace
  // of its own): the pods a node agent makes must be visible to everyone, as on a real machine.
  const enter = (name: string) => ["nsenter", `--net=/run/netns/${by(name).netns}`, "--"];
  return {
    tag, list, by, destroy,
    /** The node name a machine's agent joins as. */
    nodeName: (name: string) => `${tag}-${name}`,
    /** A `zeromesh` process on a machine (its JSON lines collected). */
    zeromesh(machine: string, args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): MeshProcess {
      const p = new MeshProcess(`${machine}: zeromesh ${args[0]}`, args, { ...opts, wrap: enter(machine) });
      processes.push(p);
      return p;
    },
    /** Any command on a machine, to its end: exit code and output. */
    run(machine: string, argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
      return runToEnd([...enter(machine), ...argv], { ...process.env, ...opts.env }, opts.timeoutMs ?? 20_000);
    },
    /** A long-running command on a machine, killed by destroy(). */
    serve(machine: string, argv: string[]): ChildProcess {
      const a = [...enter(machine), ...argv];
      const child = spawn(a[0]!, a.slice(1), { stdio: "ignore" });
      processes.push(child);
      return child;
    },
    cli: join(PROJECT_ROOT, "dist", "cli", "main.js"),
    /** The last words of every zeromesh process started here. */
    logs: () => processes.filter((p): p is MeshProcess => p instanceof MeshProcess).map((p) => `${p.name}:\n  ${[...p.stderr.slice(-15), ...p.lines.slice(-5).map((l) => JSON.stringify(l).slice(0, 300))].join("\n  ")}`).join("\n"),
  };
}
