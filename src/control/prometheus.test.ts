// A real Prometheus (Debian's `prometheus`) scrapes the proxies it finds in the control plane's file_sd targets,
// and the queries of Istio's Grafana mesh dashboard return the series a user expects.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { send } from "../scenario/client.js";
import { controlFixture, waitUntil } from "../testing/control-plane.js";
import { METRICS_PATH, targetGroups, type TargetGroup } from "./prometheus-sd.js";

test("prometheus targets: one group per connected proxy with a stats endpoint, labelled as Istio labels a pod", () => {
  const groups = targetGroups([
    { id: "b/web", connected: true, listeners: {}, stats: "127.0.0.3:15090" },
    { id: "a/client", connected: true, listeners: {}, stats: "127.0.0.2:15090" },
    { id: "c/gone", connected: false, listeners: {}, stats: "127.0.0.4:15090" },
    { id: "c/new", connected: true, listeners: {} },
  ]);
  assert.deepEqual(groups, [
    { targets: ["127.0.0.2:15090"], labels: { __metrics_path__: METRICS_PATH, namespace: "a", pod: "client" } },
    { targets: ["127.0.0.3:15090"], labels: { __metrics_path__: METRICS_PATH, namespace: "b", pod: "web" } },
  ]);
});

const PROMETHEUS = "/usr/bin/prometheus";
const hasPrometheus = spawnSync(PROMETHEUS, ["--version"]).status === 0;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** An instant PromQL query against the server's HTTP API: each series' labels and value. */
async function query(at: string, promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const r = await fetch(`http://${at}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await r.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, "success", `${promql}: ${body.error}`);
  return body.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
}

// Istio's Grafana mesh dashboard (manifests/addons/dashboards), with $__rate_interval as 1m.
const SOURCE = `reporter=~"source|waypoint"`;
const REQUEST_RATE_BY_WORKLOADS = `sum by (source_workload, destination_workload, destination_workload_namespace) (rate(istio_requests_total{${SOURCE}}[1m]))`;
const SUCCESS_RATE = `sum by (destination_workload,destination_workload_namespace) (rate(istio_requests_total{${SOURCE},response_code!~"5.."}[1m]))/sum by (destination_workload,destination_workload_namespace) (rate(istio_requests_total{${SOURCE}}[1m]))`;
const P99 = `histogram_quantile(0.99, sum by (le,destination_workload,destination_workload_namespace) (rate(istio_request_duration_milliseconds_bucket{${SOURCE}}[1m])))`;

test("a real Prometheus scrapes the proxies through zeromesh's file_sd targets; Istio's dashboard queries answer", {
  timeout: 120_000,
  skip: hasPrometheus ? false : `no ${PROMETHEUS} on this machine (Debian package prometheus; .ci/run installs it)`,
}, async () => {
  const f = await controlFixture();
  const cp = await f.open();
  const web = f.agent("b/web", cp.address, f.rootPem, cp.issueBootstrap("b/web"));
  const client = f.agent("a/client", cp.address, f.rootPem, cp.issueBootstrap("a/client"));
  const dir = mkdtempSync(join(tmpdir(), "zm-prometheus-"));
  let prometheus: ChildProcess | undefined;
  try {
    await Promise.all([web.start(), client.start()]);
    await waitUntil(() => cp.synced(["b/web", "a/client"]));
    const targetsFile = join(f.stateDir, "prometheus-targets.json");
    await waitUntil(() => (JSON.parse(readFileSync(targetsFile, "utf8")) as TargetGroup[]).length === 2);

    const at = `127.0.0.1:${await freePort()}`;
    writeFileSync(join(dir, "prometheus.yml"), [
      "global: {scrape_interval: 1s, evaluation_interval: 1s}",
      "scrape_configs:",
      "  - job_name: zeromesh-proxies",
      `    file_sd_configs: [{files: [${JSON.stringify(targetsFile)}], refresh_interval: 1s}]`,
    ].join("\n"));
    let log = "";
    prometheus = spawn(PROMETHEUS, [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=${at}`], { stdio: ["ignore", "ignore", "pipe"] });
    prometheus.stderr!.on("data", (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    const exited = new Promise<never>((_, reject) => prometheus!.once("exit", (code) => reject(new Error(`prometheus exited (${code}): ${log}`))));
    const scraped = async (promql: string, holds: (r: { metric: Record<string, string>; value: number }[]) => boolean) => {
      let last: unknown;
      await Promise.race([exited, waitUntil(async () => holds((last = await query(at, promql).catch(() => []))), 60_000)]).catch((e: Error) => {
        throw new Error(`${promql}: ${e.message}; last answer ${JSON.stringify(last)}`);
      });
    };

    // Both proxies found through the file and scraped.
    await scraped(`up{job="zeromesh-proxies"} == 1`, (r) => r.map((s) => `${s.metric.namespace}/${s.metric.pod}`).sort().join() === "a/client,b/web");

    const get = (path: string) => send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path, headers: {} }, { proxy: { host: client.sidecar.outboundAddress.split(":")[0]!, port: Number(client.sidecar.outboundAddress.split(":")[1]) } });
    const total = `sum(istio_requests_total{reporter="source"})`;
    // A first request of each kind makes the series, so that the rates below count only what follows.
    for (const path of ["/", "/status/503", "/delay/0.3"]) await get(path);
    await scraped(total, (r) => r[0]?.value === 3);
    const paths = [...Array(16).fill("/"), ...Array(4).fill("/status/503"), ...Array(5).fill("/delay/0.3")];
    const answers = await Promise.all(paths.map(get));
    assert.deepEqual(answers.map((a) => (a.kind === "response" ? a.status : a.kind)).sort(), [...Array(21).fill(200), ...Array(4).fill(503)]);
    await scraped(total, (r) => r[0]?.value === 28);

    const rate = await query(at, REQUEST_RATE_BY_WORKLOADS);
    assert.equal(rate.length, 1, JSON.stringify(rate));
    assert.deepEqual(rate[0]!.metric, { source_workload: "client", destination_workload: "web", destination_workload_namespace: "b" });
    assert.ok(rate[0]!.value > 0);

    const success = await query(at, SUCCESS_RATE);
    assert.equal(success.length, 1, JSON.stringify(success));
    assert.equal(success[0]!.metric.destination_workload, "web");
    // rate() extrapolates each series to the window's edges a little differently (by its first value), hence the margin.
    assert.ok(Math.abs(success[0]!.value - 21 / 25) < 0.04, `success rate ${success[0]!.value}, expected about 0.84`);

    // Five of 25 took over 300 ms: the 99th percentile lies in Istio's (250, 500] ms bucket.
    const p99 = await query(at, P99);
    assert.equal(p99.length, 1, JSON.stringify(p99));
    assert.ok(p99[0]!.value > 250 && p99[0]!.value <= 500, `p99 ${p99[0]!.value} ms`);

    // A proxy that leaves is dropped from the targets, so Prometheus stops scraping it.
    await client.stop();
    await scraped(`up{job="zeromesh-proxies"}`, (r) => r.map((s) => s.metric.pod).join() === "web");
  } finally {
    prometheus?.kill("SIGTERM");
    if (prometheus && prometheus.exitCode === null) await new Promise((r) => prometheus!.once("exit", r));
    await f.stop([web, client], cp);
    rmSync(dir, { recursive: true, force: true });
  }
});
