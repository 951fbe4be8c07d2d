// Load generation, both by wrk (its own process, in C, so the generator does not share a Node event loop or heap
// with anything measured): at fixed concurrency for throughput, and paced at a fixed rate for latency percentiles.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

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

interface WrkRun {
  connections: number;
  seconds: number;
  dir: string;
}

/** Runs wrk (one thread) against `t` with `lua` added to the script that sets the request; its standard output. */
function wrk(t: Target, run: WrkRun, name: string, lua = ""): string {
  const script = join(run.dir, `wrk-${name}-${t.port}.lua`);
  // For HTTPS the URL carries the name (wrk sends it as SNI); wrk.resolve pins the real address.
  const pin = t.https ? `wrk.resolve = function(host, service) wrk.addrs = wrk.lookup("${t.host}", service) end\n` : "";
  writeFileSync(script, `${pin}wrk.path = "${t.path}"\nwrk.headers["Host"] = "${t.hostHeader}"\n${lua}`);
  const url = t.https ? `https://${t.hostHeader}:${t.port}` : `http://${t.host}:${t.port}`;
  const argv = [...(t.wrap ?? []), "wrk", "-t1", `-c${run.connections}`, `-d${run.seconds}s`, "-s", script, url];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(r.stdout);
  if (r.status !== 0 || errors) throw new Error(`wrk against ${t.host}:${t.port} failed: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Requests per second from wrk at fixed concurrency. */
export function wrkThroughput(t: Target, run: WrkRun): { rps: number; requests: number } {
  const out = wrk(t, run, "throughput");
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  if (!rps) throw new Error(`wrk against ${t.host}:${t.port} printed no rate: ${out}`);
  return { rps, requests };
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  count: number;
  /** The rate the pass reached, requests/s. */
  rate: number;
}

/**
 * wrk paced to a schedule: request n of the pass is due at start + n/rate, whichever connection is free takes the next
 * due slot, and waits for it (wrk's `delay` hook). With many more connections than requests in flight this is an open
 * loop: a slow answer delays no later request, unless every connection is held at once. Latency (wrk's own, from the
 * request's first byte written to the answer's last read, in µs) is printed by the `done` hook.
 */
const pacedScript = (rate: number) => `
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } zm_timespec; int clock_gettime(int, zm_timespec *); ]]
local ts = ffi.new("zm_timespec")
local function now_ms() ffi.C.clock_gettime(1, ts) return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
local interval = 1000 / ${rate}
local due = nil
function delay()
  local now = now_ms()
  due = (due or now) + interval
  return math.max(0, math.floor(due - now))
end
function done(summary, latency, requests)
  io.write(string.format("zm-latency %d %d %d %d %d\\n", latency:percentile(50), latency:percentile(90), latency:percentile(99), summary.requests, summary.duration))
end
`;

/**
 * `rate` requests per second for `seconds`, paced, and the latency percentiles in ms. A discarded pass of
 * `warmSeconds` first runs the same load, so the proxies' pools and buffers for this concurrency are in place before
 * the measured one (wrk opens its own connections each pass; a connection's setup is not in its latency).
 */
export function pacedLatency(t: Target, rate: number, run: WrkRun & { warmSeconds: number }): Percentiles {
  const lua = pacedScript(rate);
  if (run.warmSeconds > 0) wrk(t, { ...run, seconds: run.warmSeconds }, "paced", lua);
  const out = wrk(t, run, "paced", lua);
  const m = /zm-latency (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
  if (!m) throw new Error(`wrk against ${t.host}:${t.port} printed no latency: ${out}`);
  const [p50, p90, p99, count, durationUs] = m.slice(1).map(Number) as [number, number, number, number, number];
  return { p50: p50 / 1000, p90: p90 / 1000, p99: p99 / 1000, count, rate: durationUs ? count / (durationUs / 1e6) : 0 };
}
