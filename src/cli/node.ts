// `zeromesh node --join ADDR --join-file FILE`: this machine becomes a node of the mesh whose control plane listens
// at ADDR. `zeromesh node-token NAME --out FILE`: the administrator's side, a join credential for one node name.
// `zeromesh nodes`: the joined nodes.
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { Codes, ZmError } from "../api/errors.js";
import { podsUnavailable } from "../node/available.js";
import { JoinedNode, type JoinFile } from "../node/joined.js";
import type { PodInfo } from "../node/agent.js";
import { writeNodePods } from "../node/pods-file.js";
import { adminCall, adminClient } from "./admin.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";
import { untilStopped } from "./signals.js";
import { printData, table } from "./table.js";

const USAGE = "zeromesh node --join ADDR:PORT --join-file FILE [--no-commands]";
const TOKEN_USAGE = "zeromesh node-token NAME --out FILE [--admin HOST:PORT]";

/** A join file as `node-token` writes it; one that others may read is refused, as a credential anyone can copy. */
export function readJoinFile(file: string): JoinFile {
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ZmError(Codes.NODE, `cannot read the join file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if ((mode & 0o077) !== 0) throw new ZmError(Codes.NODE, `${file} may be read by others (mode ${(mode & 0o777).toString(8)}): a join credential is its node's alone; chmod 600 ${file}`);
  let j: Partial<JoinFile>;
  try {
    j = JSON.parse(text) as Partial<JoinFile>;
  } catch {
    throw new ZmError(Codes.NODE, `${file} is not a join file (zeromesh node-token writes one)`);
  }
  if (typeof j.node !== "string" || typeof j.token !== "string" || typeof j.rootPem !== "string") throw new ZmError(Codes.NODE, `${file} is not a join file: it needs node, token and rootPem`);
  return { node: j.node, token: j.token, rootPem: j.rootPem };
}

export async function nodeCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { join: { type: "string" }, "join-file": { type: "string" }, "no-commands": { type: "boolean" } }, USAGE);
  if (!values.join || !values["join-file"] || !/^[^:]+:\d+$/.test(values.join)) return io.usage(USAGE);
  const why = podsUnavailable();
  if (why) {
    io.err(`zeromesh: this machine cannot run pods: ${why}`);
    return 1;
  }
  const join = readJoinFile(values["join-file"]);
  const pods = new Map<string, PodInfo>();
  const node = new JoinedNode({
    control: values.join, join, runCommands: !values["no-commands"], log: (l) => io.err(`zeromesh node ${join.node}: ${l}`),
    reload: () => readJoinFile(values["join-file"]!),
    onPod: (p, up) => {
      io.out(JSON.stringify({ type: up ? "pod" : "pod-removed", ...p }));
      pods.set(p.id, p);
      if (!up) pods.delete(p.id);
      writeNodePods(join.node, [...pods.values()]);
    },
  });
  const ready = await node.start();
  io.out(JSON.stringify({ type: "ready", node: join.node, control: values.join, ...ready }));
  await untilStopped();
  await node.stop();
  return 0;
}

export async function nodeTokenCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: "string" }, admin: { type: "string" } }, TOKEN_USAGE);
  if (positionals.length !== 1 || !values.out) return io.usage(TOKEN_USAGE);
  const r = await adminCall<JoinFile & { expires: string }>(adminClient(values.admin), "POST", "/v1/nodes/token", { node: positionals[0] });
  // Written for the node's eyes only; the credential itself is never printed.
  // A new file, 0600 from its first byte, then moved into place: an existing file's looser mode is never kept.
  const tmp = `${values.out}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ node: r.node, token: r.token, rootPem: r.rootPem }, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  renameSync(tmp, values.out);
  io.out(`wrote ${values.out}: the join credential of node ${r.node}, good until ${r.expires}. Hand it to that machine out of band (mode 0600), then run there: zeromesh node --join ADDR:PORT --join-file FILE`);
  return 0;
}

export async function nodesCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { admin: { type: "string" }, output: { type: "string", short: "o" } }, "zeromesh nodes [-o json|yaml] [--admin HOST:PORT]");
  const nodes = await adminCall<{ name: string; address: string; podCidr: string; connected: boolean; since: string; pods: number }[]>(adminClient(values.admin), "GET", "/v1/nodes");
  printData(io.out, values.output, nodes, () => table(["NODE", "ADDRESS", "POD CIDR", "STATUS", "WORKLOADS", "SINCE"], nodes.map((n) => [n.name, n.address, n.podCidr, n.connected ? "Ready" : "Left", String(n.pods), n.since])));
  return 0;
}
