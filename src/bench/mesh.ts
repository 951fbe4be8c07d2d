// The data-path benchmark: client → sidecar → mTLS → sidecar → server,
// against the same path with no proxies and against an nginx mTLS pair, all
// measured in one run on this machine.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MeshProcess } from "../scenario/processes.js";
import { LiveMesh } from "../scenario/live-runner.js";
import { pacedLatency, wrkThroughput, type Percentiles, type Target } from "./load.js";
import { startNginxPair, startNginxTls } from "./nginx.js";
import { startNodeFloorPair } from "./node-floor.js";
import { loadSettings, proxyNodeArgs } from "../config/settings.js";
import { createRoot, issueLeaf } from "../ca/x509.js";
import { ensureTools, median } from "./tools.js";
import { podsUnavailable } from "../node/available.js";
import { startPodPair } from "./pods.js";

const GATEWAY = (certPem: string, keyPem: string) => `
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingress}}
  template:
    metadata: {labels: {istio: ingress}, annotations: {inject.istio.io/templates: gateway}}
    spec: {serviceAccountName: ingress, containers: [{name: istio-proxy, image: auto}]}
---
apiVersion: v1
kind: Service
metadata: {name: ingress, namespace: istio-system}
spec: {selector: {istio: ingress}, ports: [{name: https, port: 443, targetPort: 8443}]}
---
apiVersion: v1
kind: Secret
metadata: {name: bench-credential, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: ${Buffer.from(certPem).toString("base64")}, tls.key: ${Buffer.from(keyPem).toString("base64")}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: bench}
spec:
  selector: {istio: ingress}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [bench.example.com], tls: {mode: SIMPLE, credentialName: bench-credential}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench, namespace: bench}
spec: {hosts: [bench.example.com], gateways: [bench], http: [{route: [{destination: {host: server, port: {number: 8080}}}]}]}
`;

export const CONFIG = `apiVersion: v1
kind: Namespace
metadata: {name: bench, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: bench, labels: {app: client}}
spec: {containers: [{name: c, image: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: bench, labels: {app: server}}
spec: {containers: [{name: s, image: s, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: bench}
spec: {selector: {app: server}, ports: [{name: http, port: 8080}]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: bench}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: callers, namespace: bench}
spec:
  selector: {matchLabels: {app: server}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/bench/sa/default"]}}]
    to: [{operation: {methods: ["GET"]}}]
  - from: [{source: {principals: ["cluster.local/ns/istio-system/sa/ingress"]}}]
`;

/** How many times each path's throughput is measured, in turn with the others. */
const ROUNDS = Number(process.env.ZM_BENCH_ROUNDS ?? 5);
/** The discarded pass before each latency pass: the proxies' pools and buffers for its concurrency are in place before it is measured. */
const LATENCY_WARM_S = 1;

/** Every path's warm-up before it is measured: the same for all, long enough for the JIT to settle. */
const WARM_UP = (connections: number, dir: string) => ({ connections, seconds: 3, dir });

/** Resident memory (MB) and CPU seconds of a process with its children (nginx's workers), from /proc. */
function usage(pid: number): { rssMb: number; cpuSeconds: number } {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  let rssKb = 0;
  let ticks = 0;
  for (const p of [pid, ...children]) {
    rssKb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
    const stat = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ");
    ticks += Number(stat[11]) + Number(stat[12]);
  }
  return { rssMb: rssKb / 1024, cpuSeconds: ticks / 100 };
}

/** The machine's CPU counters (/proc/stat): on a shared VM, time stolen by other guests skews every figure taken meanwhile. */
function cpuTicks(): { steal: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) };
}

/** Runs `f` and says which share of the machine's CPU time was stolen meanwhile. */
async function withSteal<T>(f: () => T | Promise<T>): Promise<T & { stealPct: number }> {
  const a = cpuTicks();
  const r = await f();
  const b = cpuTicks();
  return { ...r, stealPct: b.total > a.total ? (100 * (b.steal - a.steal)) / (b.total - a.total) : 0 };
}

export interface MeshBenchReport {
  lines: string[];
}

export async function runMeshBench(opts: { seconds: number; connections: number; rate: number }, log: (l: string) => void): Promise<void> {
  const missing = ensureTools([{ cmd: "nginx", pkg: "nginx" }, { cmd: "wrk", pkg: "wrk" }], log);
  if (missing.length) {
    log(`data-path benchmark skipped: missing ${missing.join(", ")}. Install them (apt-get install nginx wrk) and run npm run bench again.`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "zeromesh-bench-"));
  const backend = new MeshProcess("backend", ["app", "--name", "server", "--namespace", "bench"]);
  const stops: (() => Promise<void>)[] = [() => backend.stop()];
  try {
    const backendAddr = String((await backend.waitFor((l) => l.type === "ready")).address);
    const [bh, bp] = backendAddr.split(":");
    const now = Date.now();
    const validity = { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) };
    const ingressCert = await issueLeaf(await createRoot("bench ingress", validity), { commonName: "bench.example.com", dnsNames: ["bench.example.com"], validity });
    const mesh = new LiveMesh({ file: "bench", name: "bench", resources: [{ text: CONFIG + GATEWAY(ingressCert.certPem, ingressCert.keyPem), label: "bench.yaml" }], certificates: [], externals: [], apps: [], steps: [] }, { appAt: (w) => (w.name === "server" ? backendAddr : undefined), proxyArgs: ["--access-log", "off"] });
    stops.unshift(() => mesh.stop());
    await mesh.start();
    const nginx = await startNginxPair(dir, backendAddr);
    stops.unshift(() => nginx.stop());
    const floor = await startNodeFloorPair(dir, backendAddr, proxyNodeArgs(loadSettings()));
    stops.unshift(() => floor.stop());
    // Pods, where this machine may make them: the same pair with traffic captured by iptables instead of HTTP_PROXY.
    const podsWhy = podsUnavailable();
    const pods = podsWhy ? undefined : await startPodPair(dir, CONFIG);
    if (pods) stops.unshift(() => pods.stop());
    else log(`(pod-mode row left out: ${podsWhy})`);
    if (pods) log(`pods: two pods from nothing to the first allowed request in ${pods.startMs} ms (network namespaces, capture, sidecars' certificates and configuration, the server started)`);
    const proxy = mesh.outboundOf("bench/client")!.split(":");
    const targets: Record<string, Target> = {
      direct: { host: bh!, port: Number(bp), path: "/", hostHeader: "server.bench:8080" },
      nginx: { host: nginx.front.host, port: nginx.front.port, path: "/", hostHeader: "server.bench:8080" },
      "node floor": { host: floor.front.host, port: floor.front.port, path: "/", hostHeader: "server.bench:8080" },
      zeromesh: { host: proxy[0]!, port: Number(proxy[1]), path: "http://server.bench:8080/", hostHeader: "server.bench:8080" },
      ...(pods ? { "zeromesh pods": pods.target } : {}),
    };
    // Warm up every path at full concurrency (TLS sessions, pools, and the JIT: a sidecar has far more code to
    // optimize than the floor pair, and one second left it compiling through the measured run).
    for (const t of Object.values(targets)) wrkThroughput(t, WARM_UP(opts.connections, dir));

    log(`\nthroughput: wrk, 1 thread, ${opts.connections} connections, ${opts.seconds} s each, the paths in turn ${ROUNDS} times (the median; CPU over all rounds)`);
    const sidecars = Object.entries(mesh.sidecarPids()).filter(([owner]) => owner.startsWith("bench/"));
    // Every proxy process of every path, measured over the throughput runs (each works only during its own path's run).
    const procs: { path: string; name: string; pid: number }[] = [
      ...nginx.pids.map((pid, i) => ({ path: "nginx", name: `nginx ${i ? "server" : "client"} side`, pid })),
      ...floor.pids.map((pid, i) => ({ path: "node floor", name: `node floor ${i ? "server" : "client"} side`, pid })),
      ...sidecars.map(([owner, pid]) => ({ path: "zeromesh", name: `sidecar ${owner}`, pid })),
      ...(pods?.pids ?? []).map((pid, i) => ({ path: "zeromesh pods", name: `pod sidecar bench/${i ? "server" : "client"}`, pid })),
    ];
    const pids = procs.map((p) => p.pid);
    const before = pids.map(usage);
    // In turn, several times: this machine's speed moves between runs, and a ratio should not depend on which path ran when.
    const runs: Record<string, { rps: number; requests: number; stealPct: number; cpuPerRequest: number }[]> = {};
    // Each proxy's resident memory after each of its path's runs: a single reading lands before or after a major
    // collection by chance (the same sidecar read 82 and 96 MB in two runs), the median of them does not.
    const rssAfterRuns = new Map(procs.map((p) => [p.pid, [] as number[]]));
    const cpuOf = (path: string) => procs.filter((p) => p.path === path).reduce((sum, p) => sum + usage(p.pid).cpuSeconds, 0);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, t] of Object.entries(targets)) {
        const cpu0 = cpuOf(name);
        const r = await withSteal(() => wrkThroughput(t, { connections: opts.connections, seconds: opts.seconds, dir }));
        (runs[name] ??= []).push({ ...r, cpuPerRequest: (cpuOf(name) - cpu0) / r.requests });
        for (const p of procs) if (p.path === name) rssAfterRuns.get(p.pid)!.push(usage(p.pid).rssMb);
      }
    }
    const tp: Record<string, { rps: number; requests: number; stealPct: number }> = {};
    for (const [name, rs] of Object.entries(runs)) {
      tp[name] = { rps: median(rs.map((r) => r.rps)), requests: rs.reduce((a, r) => a + r.requests, 0), stealPct: Math.max(...rs.map((r) => r.stealPct)) };
    }
    const after = pids.map(usage);
    const LABEL: Record<string, string> = { direct: "direct (no proxies)", nginx: "nginx mTLS pair", "node floor": "node floor pair (mTLS, no policy)", zeromesh: "zeromesh sidecars (mTLS, loopback: HTTP_PROXY)", "zeromesh pods": "zeromesh sidecars in pods (mTLS, iptables capture)" };
    log("| path | requests/s | vs nginx pair | vs node floor | CPU stolen by other guests |");
    log("|---|---:|---:|---:|---:|");
    for (const [name, r] of Object.entries(tp)) log(`| ${LABEL[name]} | ${Math.round(r.rps).toLocaleString("en-US")} | ${(r.rps / tp.nginx!.rps).toFixed(2)}× | ${(r.rps / tp["node floor"]!.rps).toFixed(2)}× | ${r.stealPct.toFixed(0)}% |`);

    log(`\nadded latency at a fixed ${opts.rate} requests/s (wrk paced to a schedule over ${opts.connections} connections, ${opts.seconds} s after a discarded ${LATENCY_WARM_S} s pass at the same rate), in ms over the direct path; the paths in turn ${ROUNDS} times (the median of each percentile)`);
    // In turn, as throughput is: one pass's tail is whatever else the machine did in those seconds.
    const passes: Record<string, (Percentiles & { stealPct: number })[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, t] of Object.entries(targets)) {
        (passes[name] ??= []).push(await withSteal(() => pacedLatency(t, opts.rate, { connections: opts.connections, seconds: opts.seconds, dir, warmSeconds: LATENCY_WARM_S })));
      }
    }
    const lat: Record<string, Percentiles & { stealPct: number }> = {};
    for (const [name, ps] of Object.entries(passes)) {
      lat[name] = { p50: median(ps.map((p) => p.p50)), p90: median(ps.map((p) => p.p90)), p99: median(ps.map((p) => p.p99)), count: ps.reduce((n, p) => n + p.count, 0), rate: median(ps.map((p) => p.rate)), stealPct: Math.max(...ps.map((p) => p.stealPct)) };
    }
    const d = lat.direct!;
    log("| path | p50 | p90 | p99 | rate reached | CPU stolen |");
    log("|---|---:|---:|---:|---:|---:|");
    for (const [name, p] of Object.entries(lat)) {
      const added = (v: number, base: number) => `${v >= base ? "+" : "−"}${Math.abs(v - base).toFixed(2)}`;
      const fmt = (v: number, base: number) => (name === "direct" ? `${v.toFixed(2)} (absolute)` : added(v, base));
      log(`| ${name} | ${fmt(p.p50, d.p50)} | ${fmt(p.p90, d.p90)} | ${fmt(p.p99, d.p99)} | ${Math.round(p.rate).toLocaleString("en-US")}/s | ${p.stealPct.toFixed(0)}% |`);
    }

    log(`\ningress: client → TLS termination → server, wrk over HTTPS, ${opts.connections} connections, ${opts.seconds} s each`);
    const nginxTls = await startNginxTls(dir, backendAddr, ingressCert);
    stops.unshift(() => nginxTls.stop());
    const gw = mesh.listenerOf("istio-system/ingress", 8443)!.split(":");
    const ingress: Record<string, Target> = {
      nginx: { host: nginxTls.front.host, port: nginxTls.front.port, path: "/", hostHeader: "bench.example.com", https: true },
      zeromesh: { host: gw[0]!, port: Number(gw[1]), path: "/", hostHeader: "bench.example.com", https: true },
    };
    for (const t of Object.values(ingress)) wrkThroughput(t, WARM_UP(opts.connections, dir));
    const it: Record<string, { rps: number }> = {};
    for (const [name, t] of Object.entries(ingress)) it[name] = wrkThroughput(t, { connections: opts.connections, seconds: opts.seconds, dir });
    log("| path | requests/s | vs nginx |");
    log("|---|---:|---:|");
    log(`| nginx TLS termination → server | ${Math.round(it.nginx!.rps).toLocaleString("en-US")} | 1.00× |`);
    log(`| zeromesh gateway (TLS) → sidecar (mTLS) → server | ${Math.round(it.zeromesh!.rps).toLocaleString("en-US")} | ${(it.zeromesh!.rps / it.nginx!.rps).toFixed(2)}× |`);

    log("\nproxy resources (each proxy process over its path's throughput runs: resident memory, the median of its readings after each run)");
    log("| process | resident memory | readings | CPU seconds per 1,000 requests |");
    log("|---|---:|---|---:|");
    const perPath = new Map<string, { rssMb: number; cpuPer1000: number }>();
    procs.forEach((p, i) => {
      const reqs = tp[p.path]!.requests;
      const cpuPer1000 = (after[i]!.cpuSeconds - before[i]!.cpuSeconds) / (reqs / 1000);
      const readings = rssAfterRuns.get(p.pid)!;
      const rssMb = median(readings);
      log(`| ${p.name} | ${rssMb.toFixed(1)} MB | ${readings.map((r) => r.toFixed(0)).join(", ")} | ${cpuPer1000.toFixed(3)} |`);
      const sum = perPath.get(p.path) ?? { rssMb: 0, cpuPer1000: 0 };
      perPath.set(p.path, { rssMb: sum.rssMb + rssMb, cpuPer1000: sum.cpuPer1000 + cpuPer1000 });
    });

    // The data path's goals, each against the node floor pair of this run (two proxies each: sums of the pair).
    const z = perPath.get("zeromesh")!;
    const f = perPath.get("node floor")!;
    const zp99 = lat.zeromesh!.p99 - d.p99;
    const fp99 = lat["node floor"]!.p99 - d.p99;
    const rows: [string, string, string, string, boolean][] = [
      ["throughput", `${Math.round(tp.zeromesh!.rps).toLocaleString("en-US")} req/s`, `${(tp.zeromesh!.rps / tp["node floor"]!.rps).toFixed(2)}× the floor`, "≥ 0.90×", tp.zeromesh!.rps >= 0.9 * tp["node floor"]!.rps],
      [`added p99 at ${opts.rate} req/s`, `${zp99.toFixed(2)} ms`, `${(zp99 - fp99) >= 0 ? "+" : "−"}${Math.abs(zp99 - fp99).toFixed(2)} ms over the floor's`, "≤ +1 ms", zp99 - fp99 <= 1],
      ["resident memory (the pair)", `${z.rssMb.toFixed(1)} MB`, `${(z.rssMb - f.rssMb) >= 0 ? "+" : "−"}${Math.abs(z.rssMb - f.rssMb).toFixed(1)} MB over the floor's`, "≤ +10 MB", z.rssMb - f.rssMb <= 10],
      ["CPU per 1,000 requests (the pair)", `${z.cpuPer1000.toFixed(3)} s`, `${(z.cpuPer1000 / f.cpuPer1000).toFixed(2)}× the floor's`, "≤ 1.20×", z.cpuPer1000 <= 1.2 * f.cpuPer1000],
    ];
    log("\ndata path goals: zeromesh sidecars against the node floor pair of this run");
    log("| figure | zeromesh | against the floor | goal | met |");
    log("|---|---:|---:|---:|---|");
    for (const [name, v, vs, goal, met] of rows) log(`| ${name} | ${v} | ${vs} | ${goal} | ${met ? "yes" : "no"} |`);
    // How far this machine moves the ratios: each round's zeromesh run against the floor's run of the same round.
    const paired = (f: (r: (typeof runs)[string][number]) => number) => runs.zeromesh!.map((r, i) => f(r) / f(runs["node floor"]![i]!));
    const spread = (xs: number[]) => `${median(xs).toFixed(2)}× (rounds: ${xs.map((x) => x.toFixed(2)).join(", ")})`;
    log(`\nthe same two ratios round by round, zeromesh against the floor's run of its round: throughput ${spread(paired((r) => r.rps))}; CPU per request ${spread(paired((r) => r.cpuPerRequest))}`);
  } finally {
    for (const s of stops) await s().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
