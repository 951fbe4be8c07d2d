// `npm run bench -- control`: the real control plane (in this process) and N simulated proxies (proxy-swarm.ts, in
// two other processes, speaking the real agent protocol), over a mesh of 1,000 services and 1,000
// AuthorizationPolicies. Per N: certificate issuance, memory per connected proxy, and for two changes applied
// through the admin API — one every proxy sees, one a Sidecar scope hides from namespace ns0 — the time from the
// apply to the last ACK, the proxies pushed, bytes per pushed proxy and the control plane's CPU per change.
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_MESH } from "../api/mesh.js";
import { BootstrapAuthority } from "../ca/bootstrap.js";
import { CertificateAuthority } from "../ca/authority.js";
import { AdminClient } from "../control/admin-client.js";
import { openOrCreateAdminToken } from "../control/admin-credential.js";
import { ControlPlane } from "../control/server.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import { MemoryStore } from "../store/memory.js";
import { sessionFloor, type Floor } from "./session-floor.js";
import { exposeGc } from "./tools.js";

const SERVICES = 1000;
const NAMESPACES = 100;

const gc = exposeGc();

/** 1,000 Services (10 per namespace) with one AuthorizationPolicy each; Deployments behind the first min(N, 1,000), N instances in all; a Sidecar that keeps ns0 to itself. */
export function meshYaml(proxies: number): string {
  const deployments = Math.min(proxies, SERVICES);
  const replicas = Math.ceil(proxies / deployments);
  const docs: string[] = [
    "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: ns0}\nspec: {egress: [{hosts: [\"./*\", \"istio-system/*\"]}]}",
  ];
  for (let n = 0; n < NAMESPACES; n++) docs.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ns${n}}`);
  for (let j = 0; j < SERVICES; j++) {
    const ns = `ns${j % NAMESPACES}`;
    docs.push(`apiVersion: v1\nkind: Service\nmetadata: {name: s${j}, namespace: ${ns}}\nspec: {selector: {app: s${j}}, ports: [{name: http, port: 80, targetPort: 8080}]}`);
    docs.push(`apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: s${j}, namespace: ${ns}}\nspec:\n  selector: {matchLabels: {app: s${j}}}\n  rules: [{from: [{source: {namespaces: [ns${(j + 1) % NAMESPACES}]}}], to: [{operation: {methods: [GET], paths: ["/api/*"]}}]}]`);
    if (j < deployments) {
      const r = Math.min(replicas, proxies - j * replicas);
      if (r > 0) docs.push(`apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: s${j}, namespace: ${ns}}\nspec:\n  replicas: ${r}\n  selector: {matchLabels: {app: s${j}}}\n  template:\n    metadata: {labels: {app: s${j}}}\n    spec: {containers: [{name: app, image: app, ports: [{containerPort: 8080}]}]}`);
    }
  }
  return docs.join("\n---\n");
}

interface ConfigSeen { config: string; version: number; bytes: number; at: number }

export interface ControlRow {
  proxies: number;
  /** Certificates issued per second while all proxies bootstrapped (and connected). */
  certsPerSecond: number;
  /** Right after every proxy is in sync: resident, and live (heap and buffers), per proxy. */
  rssInSyncPerProxy: number;
  liveInSyncPerProxy: number;
  /** Resident and heap memory of the control plane per connected proxy at rest, bytes. */
  rssPerProxy: number;
  heapPerProxy: number;
  /** Heap and external (buffers) per connected proxy: what the control plane holds alive, beside what its allocator keeps. */
  livePerProxy: number;
  /** The same for a bare server holding as many idle mTLS HTTP/2 sessions (session-floor.ts). */
  floor: Floor;
  changes: { name: string; pushed: number; p50Ms: number; maxMs: number; bytesPerProxy: number; cpuMs: number; hiddenPushed?: number }[];
}

/** Starts the inspector's CPU profiler on this process; stop() gives the profile. */
async function cpuProfile(): Promise<{ stop(): Promise<unknown> }> {
  const session = new Session();
  session.connect();
  const post = (method: string) => new Promise<unknown>((resolve, reject) => session.post(method, (e, r) => (e ? reject(e) : resolve(r))));
  await post("Profiler.enable");
  await post("Profiler.start");
  return { stop: async () => ((await post("Profiler.stop")) as { profile: unknown }).profile };
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))]! : 0;
};

export async function runControlBench(n: number, log: (l: string) => void): Promise<ControlRow> {
  const dir = mkdtempSync(join(tmpdir(), "zm-bench-control-"));
  const parsed = parseTexts([{ text: meshYaml(n), file: "bench.yaml" }], DEFAULT_MESH);
  if (parsed.issues.some((i) => i.severity === "error")) throw new Error(`bench mesh invalid: ${parsed.issues[0]!.message}`);
  const store = new MemoryStore(parsed.resources);
  const adminToken = openOrCreateAdminToken(join(dir, "admin.token"));
  const ca = await CertificateAuthority.open({ stateDir: dir, workloadTtlMs: 3_600_000 });
  const cp = new ControlPlane({ store, ca, bootstrap: BootstrapAuthority.openOrCreate(dir), bootstrapTtlMs: 3_600_000, adminToken, port: 0, adminPort: 0, endpointGraceMs: 15_000 });
  await cp.start();
  const admin = new AdminClient(cp.adminAddress, adminToken);
  const reg = Registry.of(store.snapshot());
  const ids = reg.workloads.map((w) => w.id);
  const seen: ConfigSeen[] = [];
  const swarms: ChildProcess[] = [];
  let swarmGone: string | undefined;
  const waitFor = async (cond: () => boolean, limitMs: number) => {
    const deadline = Date.now() + limitMs;
    while (!cond()) {
      if (swarmGone) throw new Error(swarmGone);
      if (Date.now() > deadline) throw new Error("not in sync in time");
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    gc();
    const before = process.memoryUsage();
    const started = Date.now();
    const halves = [ids.slice(0, Math.ceil(ids.length / 2)), ids.slice(Math.ceil(ids.length / 2))].filter((h) => h.length);
    const ready = halves.map((half) => new Promise<void>((resolve, reject) => {
      // Thousands of streams each receiving a large configuration at once need room for them all.
      const child = fork(join(dirname(fileURLToPath(import.meta.url)), "proxy-swarm.js"), [], { stdio: ["pipe", "inherit", "inherit", "ipc"], execArgv: ["--max-old-space-size=8192"] });
      swarms.push(child);
      child.on("message", (m: { ready?: number; error?: string } & Partial<ConfigSeen>) => {
        if (m.error) reject(new Error(m.error));
        else if (m.ready !== undefined) resolve();
        else if (m.config) seen.push(m as ConfigSeen);
      });
      child.once("exit", (code) => {
        swarmGone = `a proxy swarm exited (${code})`;
        reject(new Error(swarmGone));
      });
      const proxies = half.map((id) => ({ id, spiffe: reg.workload(id)!.spiffe, token: cp.issueBootstrap(id) }));
      // At most 64 bootstrapping at once per process: the control plane admits 128 unauthenticated connections per address.
      child.stdin!.end(JSON.stringify({ control: cp.address, rootPem: ca.rootPem, proxies, concurrency: 64 }) + "\n");
    }));
    await Promise.all(ready);
    const certsPerSecond = ids.length / ((Date.now() - started) / 1000);
    await waitFor(() => cp.synced(ids), 600_000);
    gc();
    const inSync = process.memoryUsage();
    const syncedSeconds = (Date.now() - started) / 1000;
    // At rest: what lingers from the start (bootstrap connections, until admission resets them; buffers of the first
    // pushes) goes within about 30 s. Measured every 5 s until live memory stops falling, for at most a minute.
    let after = inSync;
    for (let t = 0; t < 60_000; t += 5000) {
      await new Promise((r) => setTimeout(r, 5000));
      gc();
      const now = process.memoryUsage();
      const falling = now.heapUsed + now.external < after.heapUsed + after.external - 1024 * ids.length;
      after = now;
      if (!falling && t >= 30_000) break;
    }
    if (process.env.ZM_BENCH_DEBUG) for (const [when, m] of [["in sync", inSync], ["at rest", after]] as const) log(`  (debug) ${when}, per proxy: ${Object.entries(m).map(([k, v]) => `${k} ${((v - before[k as keyof typeof before]) / ids.length / 1024).toFixed(1)} KB`).join(", ")}`);
    log(`  ${n} proxies connected and in sync in ${syncedSeconds.toFixed(1)} s`);
    // The size of a proxy's first (whole) configuration, which the floor's sessions carry too.
    const firsts = new Map<string, number>();
    for (const c of seen) if (!firsts.has(c.config)) firsts.set(c.config, c.bytes);
    const firstBytes = [...firsts.values()].reduce((a, b) => a + b, 0) / Math.max(1, firsts.size);
    if (process.env.ZM_BENCH_DEBUG) {
      const c = seen.length;
      await new Promise((r) => setTimeout(r, 3000));
      log(`  (debug) configs in 3 s of quiet: ${seen.length - c}`);
    }

    const change = async (name: string, yaml: string, hiddenFrom?: string) => {
      const version = store.snapshot().version;
      const cpu = process.cpuUsage();
      const t0 = Date.now();
      const from = seen.length;
      const dbg = process.env.ZM_BENCH_DEBUG ? (JSON.stringify((await admin.call<{ config: unknown }>("GET", `/v1/proxy-config?proxy=${ids[3]}`)).body.config) ?? "").replace(/"version":\d+/, "") : "";
      // ZM_BENCH_PROFILE=1: the control plane's CPU profile of each change, in the temporary directory.
      const profile = process.env.ZM_BENCH_PROFILE ? await cpuProfile() : undefined;
      const r = await admin.call("POST", "/v1/apply", { files: [{ file: `${name}.yaml`, text: yaml }], cause: name });
      if (r.status !== 200) throw new Error(`apply ${name}: ${JSON.stringify(r.body)}`);
      await waitFor(() => store.snapshot().version > version && cp.synced(ids), 600_000);
      // The swarms report each configuration on their IPC channel after they ACK it: wait until those have all arrived.
      for (let n = -1; n !== seen.length;) {
        n = seen.length;
        await new Promise((r) => setTimeout(r, 300));
      }
      if (profile) writeFileSync(join(tmpdir(), `zm-control-${name.replace(/\W+/g, "-")}.cpuprofile`), JSON.stringify(await profile.stop()));
      if (dbg) {
        const now = (JSON.stringify((await admin.call<{ config: unknown }>("GET", `/v1/proxy-config?proxy=${ids[3]}`)).body.config) ?? "").replace(/"version":\d+/, "");
        for (let i = 0; i < dbg.length; i++) if (dbg[i] !== now[i]) {
          log(`  (debug) ${ids[3]} differs at ${i}: ${dbg.slice(i - 150, i + 150)}\n  ---\n  ${now.slice(i - 150, i + 150)}`);
          break;
        }
      }
      const cpuMs = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1000;
      const got = seen.slice(from);
      const ms = got.map((s) => s.at - t0);
      return {
        name, pushed: got.length, p50Ms: percentile(ms, 0.5), maxMs: percentile(ms, 1), cpuMs,
        bytesPerProxy: got.length ? got.reduce((a, s) => a + s.bytes, 0) / got.length : 0,
        hiddenPushed: hiddenFrom === undefined ? undefined : got.filter((s) => s.config.startsWith(`${hiddenFrom}/`)).length,
      };
    };
    const changes = [
      await change("a policy in ns5", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: extra, namespace: ns5}\nspec: {action: DENY, rules: [{to: [{operation: {paths: [\"/admin*\"]}}]}]}"),
      await change("a Service in ns1 (hidden from ns0)", "apiVersion: v1\nkind: Service\nmetadata: {name: added, namespace: ns1}\nspec: {selector: {app: nobody}, ports: [{name: http, port: 80}]}", "ns0"),
    ];
    return {
      proxies: ids.length, certsPerSecond, floor: await sessionFloor(n, ca, firstBytes),
      rssInSyncPerProxy: (inSync.rss - before.rss) / ids.length, liveInSyncPerProxy: (inSync.heapUsed + inSync.external - before.heapUsed - before.external) / ids.length,
      rssPerProxy: (after.rss - before.rss) / ids.length, heapPerProxy: (after.heapUsed - before.heapUsed) / ids.length,
      livePerProxy: (after.heapUsed + after.external - before.heapUsed - before.external) / ids.length,
      changes,
    };
  } finally {
    for (const s of swarms) s.kill("SIGKILL");
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
