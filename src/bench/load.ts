// Load generation: wrk for throughput at fixed concurrency, and an open-loop
// generator at a fixed rate for latency percentiles.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export interface Target {
  /** Where to connect. */
  host: string;
  port: number;
  /** The request line's target: a path, or an absolute URL when talking to a proxy. */
  path: string;
  hostHeader: string;
  /** HTTPS to the target (SNI = hostHeader). */
  https?: boolean;
  /** A command that runs wrk where the client is (a pod's network namespace: `ip netns exec NS`). */
  wrap?: string[];
}

/** Requests per second from wrk at fixed concurrency. */
export function wrkThroughput(t: Target, opts: { connections: number; seconds: number; dir: string }): { rps: number; requests: number } {
  const script = join(opts.dir, `wrk-${t.port}.lua`);
  // For HTTPS the URL carries the name (wrk sends it as SNI); wrk.resolve pins the real address.
  const pin = t.https ? `wrk.resolve = function(host, service) wrk.addrs = wrk.lookup("${t.host}", service) end\n` : "";
  writeFileSync(script, `${pin}wrk.path = "${t.path}"\nwrk.headers["Host"] = "${t.hostHeader}"\n`);
  const url = t.https ? `https://${t.hostHeader}:${t.port}` : `http://${t.host}:${t.port}`;
  const argv = [...(t.wrap ?? []), "wrk", "-t1", `-c${opts.connections}`, `-d${opts.seconds}s`, "-s", script, url];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(r.stdout);
  if (!rps || errors) throw new Error(`wrk against ${t.host}:${t.port} failed: ${r.stdout}${r.stderr}`);
  return { rps, requests };
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  count: number;
  errors: number;
}

/**
 * Sends `rate` requests per second for `seconds` (open loop) and returns latency percentiles in ms. A discarded
 * pass of `warmSeconds` first opens the keep-alive connections the measured pass then uses, as a load generator
 * holding its connections does: a pass that opens them measures connection setup in its first moments (for every
 * path, and most for the proxied ones) rather than what each request costs.
 */
export async function fixedRateLatency(t: Target, rate: number, seconds: number, warmSeconds = 0): Promise<Percentiles> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    if (warmSeconds > 0) await openLoop(t, agent, rate, warmSeconds);
    const { latencies, errors } = await openLoop(t, agent, rate, seconds);
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), count: latencies.length, errors };
  } finally {
    agent.destroy();
  }
}

/** One open-loop pass over `agent`'s connections: each request's latency (200s only) and the count of the rest. */
async function openLoop(t: Target, agent: Agent, rate: number, seconds: number): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const total = rate * seconds;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request({ host: t.host, port: t.port, path: t.path, headers: { host: t.hostHeader }, agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) latencies.push(performance.now() - t0);
          else errors++;
          resolve();
        });
      });
      req.on("error", () => (errors++, resolve()));
      req.end();
    }));
  }
  await Promise.all(inflight);
  return { latencies, errors };
}
