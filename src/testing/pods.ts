// A control plane and a node agent in this process, with real pods (network namespaces, veth, iptables capture)
// and their sidecars as processes inside them: the harness of the pod tests. Needs root, iptables and the
// SO_ORIGINAL_DST addon; `podsUnavailable()` says why not when they are missing.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MESH, type MeshConfig } from "../api/mesh.js";
import { CertificateAuthority } from "../ca/authority.js";
import { BootstrapAuthority } from "../ca/bootstrap.js";
import { openOrCreateAdminToken } from "../control/admin-credential.js";
import { ControlPlane } from "../control/server.js";
import { podsUnavailable as nodePodsUnavailable } from "../node/available.js";
import { NodeAgent } from "../node/agent.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import { MemoryStore } from "../store/memory.js";

/** Why pod tests cannot run here (what pods need, and curl for the tests' clients), or undefined when they can. */
export function podsUnavailable(): string | undefined {
  const why = nodePodsUnavailable();
  if (why) return why;
  try {
    execFileSync("sh", ["-c", "command -v curl && command -v python3"], { stdio: "ignore" });
  } catch {
    return "the pod tests run curl and python3 in pods (apt-get install -y curl python3)";
  }
  return undefined;
}

/** Runs `argv` to its end (killed after `timeoutMs`): its exit code and output. */
export function runToEnd(argv: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => (clearTimeout(t), resolve({ code, out, err })));
  });
}

let nextNode = 0;

/** A mesh of `yaml` with a node agent whose pod CIDR is unique to this process and test. */
export async function podFixture(yaml: string, mesh: Partial<MeshConfig> = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), "zm-pods-"));
  const store = new MemoryStore(parseTexts([{ text: yaml, file: "mesh.yaml" }], { ...DEFAULT_MESH, ...mesh }).resources, { ...DEFAULT_MESH, ...mesh });
  const audits: Record<string, unknown>[] = [];
  const ca = await CertificateAuthority.open({ stateDir, workloadTtlMs: 3_600_000 });
  const cp = new ControlPlane({
    store, ca, bootstrap: BootstrapAuthority.openOrCreate(stateDir), bootstrapTtlMs: 300_000, adminToken: openOrCreateAdminToken(join(stateDir, "admin.token")),
    host: "0.0.0.0", port: 0, adminPort: 0, debounceMs: 10, endpointGraceMs: 15_000, audit: (line) => audits.push(line),
  });
  await cp.start();
  // A /24 per fixture: the third octet from this process's id and a counter, so concurrent test files do not meet.
  const octet = (process.pid * 7 + nextNode++) % 200 + 20;
  const nodeName = `t${process.pid}-${octet}`;
  const node: NodeAgent = new NodeAgent({
    node: nodeName, podCidr: `10.247.${octet}.0/24`,
    registry: () => Registry.of(store.snapshot()), control: (): string => `${node.gateway}:${cp.address.split(":")[1]}`, rootPem: ca.rootPem,
    bootstrap: (id) => cp.issueBootstrap(id, "test node agent"), assignAddress: (id, ip) => cp.assignPodAddress(id, ip), registerEndpoints: (id, l) => cp.registerEndpoints(id, l),
  });
  await node.start();
  /** Runs `command` in a pod as its application would; resolves with its exit code and output. */
  const exec = (id: string, command: string[], timeoutMs = 10_000) => runToEnd(node.execArgv(id, command), { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", HOME: "/tmp" }, timeoutMs);
  /** A long-running application in a pod (a server), stopped by stop(). */
  const serve = (id: string, command: string[]) => {
    const argv = node.execArgv(id, command);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/tmp" } });
    const log: string[] = [];
    child.stdout.setEncoding("utf8").on("data", (d: string) => log.push(d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => log.push(d));
    apps.push(child);
    return { log, child };
  };
  const apps: ReturnType<typeof spawn>[] = [];
  const stop = async () => {
    for (const a of apps) a.kill("SIGKILL");
    await node.stop();
    await cp.stop();
  };
  /** Applies more configuration and waits until every proxy enforces it. */
  const apply = async (more: string) => {
    const e = store.commit({ upsert: parseTexts([{ text: more, file: "step.yaml" }], store.snapshot().mesh).resources, cause: "test step" });
    const r = await cp.waitEnforced(e.version, 10_000);
    if (r.pending.length) throw new Error(`not enforced by ${r.pending.join(", ")}`);
  };
  return { store, cp, node, exec, serve, apply, stop, audits };
}
