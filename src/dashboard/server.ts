// `zeromesh dashboard`: a loopback web server that serves the dashboard's
// static bundle (built into dist/dashboard/ui) and answers its API calls from
// the running control plane's admin API, signing each call with the admin
// credential as the CLI does. It also samples the proxies' metrics for the
// mesh graph while it runs. It holds no state of the mesh's: closing it loses
// nothing.
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, normalize } from "node:path";
import type { AdminClient } from "../control/admin-client.js";
import type { TargetGroup } from "../control/prometheus-sd.js";
import { readJson } from "../control/limits.js";
import { Codes, ZmError } from "../api/errors.js";
import { countsOf, graphOf, keep, type GraphNode, type Sample } from "./graph.js";
import { DashboardSession } from "./session.js";

export interface DashboardOptions {
  admin: AdminClient;
  /** Where the built bundle is (index.html, app.js, app.css). */
  uiDir: string;
  port: number;
  /** How often the proxies' metrics are sampled for the graph. */
  sampleMs?: number;
}

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml" };
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  // The first URL carries the token: no page may pass it on.
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};
/** Admin API reads the dashboard's pages use (GET /api/X → GET /v1/X). */
const READS = new Set(["proxy-status", "workloads", "workload", "denials", "alerts", "alert-deliveries", "nodes"]);
const BODY_LIMIT = 64 * 1024;

export class Dashboard {
  private server?: Server;
  private samples: Sample[] = [];
  private sampler?: NodeJS.Timeout;
  private sampling?: Promise<void>;
  readonly session: DashboardSession;
  port = 0;

  constructor(private readonly opts: DashboardOptions) {
    this.session = new DashboardSession(() => this.port);
  }

  /** The URL to open: the token in its fragment, which the page keeps and sends with its API calls. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/#token=${this.session.token}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res).catch((e: Error) => this.json(res, 502, { error: e.message })));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    const sample = () => (this.sampling = this.sample().catch(() => undefined));
    void sample();
    this.sampler = setInterval(sample, this.opts.sampleMs ?? 2000);
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    await this.sampling;
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
  }

  /** Reads every proxy's metrics once (each within a second) and keeps the sample. */
  private async sample(): Promise<void> {
    const targets = await this.admin<TargetGroup[]>("GET", "/v1/prometheus-targets");
    const texts = await Promise.all(targets.map(async (g) => {
      const r = await fetch(`http://${g.targets[0]}${g.labels.__metrics_path__}`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      return r?.ok ? r.text().catch(() => "") : "";
    }));
    const now = Date.now();
    this.samples = keep([...this.samples, { at: now, counts: countsOf(texts) }], now);
  }

  private async admin<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const r = await this.opts.admin.call<T & { error?: string }>(method, path, body);
    if (r.status >= 400) throw Object.assign(new Error(r.body.error ?? `admin API answered ${r.status}`), { status: r.status });
    return r.body;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = this.session.refusedHost(req);
    if (refused) return this.json(res, 403, { error: refused });
    const url = new URL(req.url ?? "/", "http://dashboard");
    if (!url.pathname.startsWith("/api/")) return this.file(res, url.pathname);
    if (!this.session.admitted(req)) return this.json(res, 401, { error: "no dashboard session: open the URL zeromesh dashboard printed (its #token=…)" });
    const name = url.pathname.slice("/api/".length);
    if (req.method === "GET" && name === "graph") {
      const workloads = await this.admin<{ owner: string; namespace: string; status: string | null; sidecar: boolean }[]>("GET", "/v1/workloads");
      const nodes = new Map<string, GraphNode>();
      for (const w of workloads) if (!nodes.has(w.owner)) nodes.set(w.owner, { id: w.owner, kind: "workload", namespace: w.namespace, status: w.sidecar ? w.status : undefined });
      return this.json(res, 200, graphOf([...nodes.values()], this.samples));
    }
    if (req.method === "GET" && READS.has(name)) return this.relay(res, "GET", `/v1/${name}${url.search}`);
    if (req.method === "POST" && name === "check") {
      // Only the dashboard's own page may ask.
      if (!this.session.sameOrigin(req) || !(req.headers["content-type"] ?? "").startsWith("application/json")) return this.json(res, 403, { error: "a check must come from the dashboard's page" });
      let body: unknown;
      try {
        body = await readJson(req, BODY_LIMIT);
      } catch (e) {
        // Past the limit, nothing more is read.
        return this.json(res, e instanceof ZmError && e.code === Codes.TOO_LARGE ? 413 : 400, { error: (e as Error).message });
      }
      return this.relay(res, "POST", "/v1/check", body);
    }
    return this.json(res, 404, { error: `no dashboard API ${req.method} ${name}` });
  }

  private async relay(res: ServerResponse, method: "GET" | "POST", path: string, body?: unknown): Promise<void> {
    const r = await this.opts.admin.call(method, path, body);
    this.json(res, r.status, r.body);
  }

  private async file(res: ServerResponse, path: string): Promise<void> {
    // Pages are routed by the hash (#/graph…): every other path is the bundle's own files, and nothing outside it.
    const rel = path === "/" ? "index.html" : normalize(path).replace(/^[/\\]+/, "");
    if (rel.includes("..") || !TYPES[extname(rel)]) return this.json(res, 404, { error: "not found" });
    const body = await readFile(join(this.opts.uiDir, rel)).catch(() => undefined);
    if (!body) return this.json(res, 404, { error: rel === "index.html" ? `the dashboard is not built (${this.opts.uiDir}): npm run build` : "not found" });
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": TYPES[extname(rel)]! }).end(body);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "application/json" }).end(JSON.stringify(body));
  }
}
