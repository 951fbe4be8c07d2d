// A second baseline: the same hop as two sidecars (plain HTTP in, mutual TLS
// between the two, keep-alive both ways) done by the smallest Node proxies we
// can write with the parts the sidecars use — Node's HTTP server and undici's
// Pool — and nothing else: no policy, no routing, no logs. It measures what
// the runtime itself costs, so the report can tell the mesh's own overhead
// from the platform's. Each proxy is its own process, as sidecars are.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { HOP_BY_HOP } from "../proxy/http-forward.js";
import { Pool } from "../proxy/undici-pool.js";

const SELF = fileURLToPath(import.meta.url);

export interface FloorPair {
  front: { host: string; port: number };
  pids: number[];
  stop(): Promise<void>;
}

/** Starts the pair with the nginx pair's certificate files in `dir` (ca.pem, server.*, client.*). */
export async function startNodeFloorPair(dir: string, backend: string, nodeArgs: string[]): Promise<FloorPair> {
  const back = await startOne(nodeArgs, ["back", dir, backend]);
  const front = await startOne(nodeArgs, ["front", dir, `127.0.0.1:${back.port}`]);
  return {
    front: { host: "127.0.0.1", port: front.port },
    pids: [front.proc.pid!, back.proc.pid!],
    stop: async () => {
      await Promise.all([front.proc, back.proc].map((p) => new Promise<void>((r) => (p.exitCode !== null ? r() : (p.once("exit", () => r()), p.kill())))));
    },
  };
}

function startOne(nodeArgs: string[], args: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [...nodeArgs, SELF, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`node floor proxy (${args[0]}) exited with ${code}`)));
    proc.stdout!.setEncoding("utf8").once("data", (port: string) => resolve({ proc, port: Number(port) }));
  });
}

/** Forwards each request with the same undici dispatch interface the sidecars use, streaming both ways. */
function relay(pool: Pool) {
  return (req: IncomingMessage, res: ServerResponse) => {
    // The sidecars' own hop-by-hop list and copy loop, so the floor pays exactly what they pay for this.
    const headers: Record<string, string | string[]> = {};
    for (const k in req.headers) {
      const v = req.headers[k];
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    const body = req.method === "GET" || req.method === "HEAD" ? null : req;
    pool.dispatch({ path: req.url ?? "/", method: req.method as "GET", headers, body }, {
      onRequestStart() {},
      onResponseStart(_c, status, upHeaders) {
        const out: Record<string, string | string[]> = {};
        for (const k in upHeaders) {
          const v = upHeaders[k];
          if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        }
        res.writeHead(status, out);
      },
      onResponseData(c, chunk) {
        if (res.write(chunk)) return;
        c.pause();
        res.once("drain", () => c.resume());
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError() {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      },
    });
  };
}

/** `node-floor.js front|back DIR UPSTREAM`: one proxy; prints its port. */
function main(role: string, dir: string, upstream: string): void {
  const [host, port] = upstream.split(":") as [string, string];
  const pem = (f: string) => readFileSync(join(dir, f), "utf8");
  const keep = { connections: 256, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 };
  const listening = (s: { address(): unknown }) => () => process.stdout.write(String((s.address() as { port: number }).port));
  if (role === "back") {
    const server = createHttpsServer({ cert: pem("server.pem"), key: pem("server.key"), ca: pem("ca.pem"), requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 60_000 }, relay(new Pool(`http://${upstream}`, keep)));
    server.listen(0, "127.0.0.1", listening(server));
  } else {
    const tls = { ca: pem("ca.pem"), cert: pem("client.pem"), key: pem("client.key"), servername: "server.mesh" };
    const pool = new Pool(`https://${upstream}`, {
      ...keep,
      connect: (_o, cb) => {
        const s = tlsConnect({ host, port: Number(port), ...tls });
        s.setNoDelay(true);
        s.once("secureConnect", () => cb(null, s)).once("error", (e) => cb(e, null));
      },
    });
    const server = createHttpServer({ keepAliveTimeout: 60_000 }, relay(pool));
    server.on("connection", (s) => s.setNoDelay(true));
    server.listen(0, "127.0.0.1", listening(server));
  }
}

if (process.argv[1] === SELF) {
  process.on("SIGTERM", () => process.exit(0)); // a normal exit, so --cpu-prof and the like write their output
  main(process.argv[2]!, process.argv[3]!, process.argv[4]!);
}
