// A node's pods, for `zeromesh exec --node NAME` on that machine: kept by `zeromesh node` in its run directory,
// readable by root alone (it names the namespaces where commands run as the pods' applications).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Codes, ZmError } from "../api/errors.js";
import { nodeRunDir, type PodInfo } from "./agent.js";

const fileOf = (node: string) => join(nodeRunDir(node), "pods.json");

export function writeNodePods(node: string, pods: PodInfo[]): void {
  const file = fileOf(node);
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(pods), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    // The run directory goes when the node stops: nothing to list then.
  }
}

export function readNodePods(node: string): PodInfo[] {
  try {
    return JSON.parse(readFileSync(fileOf(node), "utf8")) as PodInfo[];
  } catch (e) {
    throw new ZmError(Codes.NODE, `no pods of node ${node} on this machine (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): is zeromesh node running here, and are you root?`);
  }
}
