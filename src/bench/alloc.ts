// Where a request's memory goes: two real sidecars of the data-path bench's
// mesh (mTLS between them, STRICT, its AuthorizationPolicy) and the application, all in this process,
// under keep-alive load; V8's sampling heap profiler counts every sampled
// allocation, collected or not, by the module that made it. Allocation is what
// the young-generation collector pays for, and the data path's gap to the
// runtime's floor is partly that (ARCHITECTURE.md, "A request allocates little
// of its own").
import { Session } from "node:inspector/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../app/server.js";
import { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { buildProxyConfig } from "../control/proxy-config.js";
import { Sidecar } from "../proxy/sidecar.js";
import { Registry } from "../registry/registry.js";
import { snapshotOf } from "../testing/helpers.js";
import { CONFIG } from "./mesh.js";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** The area a function belongs to: one of zeromesh's folders, a package, or Node itself. */
function areaOf(url: string): string {
  const ours = /\/dist\/([^/]+)\//.exec(url);
  if (ours?.[1] === "app") return "the application (stand-in)";
  if (ours?.[1] === "bench") return "the load client";
  if (ours) return `zeromesh ${ours[1]}/`;
  const pkg = /\/node_modules\/([^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  return url.startsWith("node:") ? "Node (http, tls, streams)" : "V8 and native";
}

export async function runAllocBench(requests: number, log: (l: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "zeromesh-alloc-"));
  const snap = snapshotOf(CONFIG);
  const reg = Registry.of(snap);
  const ca = await CertificateAuthority.open({ stateDir: dir, workloadTtlMs: 3_600_000 });
  const app = await startApp({ workload: "server", namespace: "bench" }, { serve: "http" }, "127.0.0.1");
  const sidecars: Record<string, Sidecar> = {};
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    for (const id of ["bench/client", "bench/server"]) {
      const w = reg.workload(id)!;
      const ports = reg.workloadPorts(w);
      const sc = new Sidecar({ id, address: w.address, ports, apps: Object.fromEntries(ports.map((p) => [p, { host: "127.0.0.1", port: app.port }])) });
      const { csrPem, keyPem } = await createCsr(w.spiffe);
      sc.setCredentials({ ...(await ca.sign(csrPem, w.spiffe)), keyPem });
      await sc.start();
      sidecars[id] = sc;
    }
    const endpoints = Object.fromEntries(Object.entries(sidecars).map(([id, s]) => [id, s.listeners]));
    for (const [id, sc] of Object.entries(sidecars)) sc.applyConfig(buildProxyConfig(snap, reg.workload(id)!, 1, endpoints, {}));
    const [host, port] = sidecars["bench/client"]!.outboundAddress.split(":");
    const one = () => new Promise<void>((resolve, reject) => {
      const r = request({ host, port: Number(port), path: "http://server.bench:8080/items", headers: { host: "server.bench:8080" }, agent }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      r.on("error", reject);
      r.end();
    });
    const load = async (n: number) => {
      let sent = 0;
      const worker = async () => {
        while (sent++ < n) await one();
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    };
    await load(Math.min(5000, requests)); // warm: pools, TLS sessions, the JIT
    const session = new Session();
    session.connect();
    await session.post("HeapProfiler.enable");
    await session.post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await load(requests);
    const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: ProfileNode } };
    session.disconnect();
    const byArea = new Map<string, number>();
    const byFunction = new Map<string, number>();
    const visit = (n: ProfileNode) => {
      const area = areaOf(n.callFrame.url);
      byArea.set(area, (byArea.get(area) ?? 0) + n.selfSize);
      if (area.startsWith("zeromesh")) {
        const f = `${n.callFrame.functionName || "(anonymous)"} (dist/${n.callFrame.url.replace(/.*\/dist\//, "")}:${n.callFrame.lineNumber + 1})`;
        byFunction.set(f, (byFunction.get(f) ?? 0) + n.selfSize);
      }
      n.children.forEach(visit);
    };
    visit(profile.head);
    const perRequest = (bytes: number) => (bytes / requests / 1024).toFixed(2);
    const total = [...byArea.values()].reduce((a, b) => a + b, 0);
    log(`KB allocated per request over ${requests.toLocaleString("en-US")} requests (client, both sidecars and the application in one process; sampled every 256 bytes)`);
    log("| area | KB per request | share |");
    log("|---|---:|---:|");
    for (const [area, bytes] of [...byArea].sort((a, b) => b[1] - a[1])) if (bytes > 0) log(`| ${area} | ${perRequest(bytes)} | ${((100 * bytes) / total).toFixed(0)}% |`);
    log(`| all | ${perRequest(total)} | 100% |`);
    log("\nzeromesh functions that allocate most, KB per request");
    for (const [f, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 12)) log(`  ${perRequest(bytes).padStart(5)}  ${f}`);
  } finally {
    agent.destroy();
    for (const sc of Object.values(sidecars)) await sc.stop();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
