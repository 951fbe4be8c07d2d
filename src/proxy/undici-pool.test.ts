import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";
import { Pool } from "./undici-pool.js";

test("undici-pool: the Pool loaded on its own carries requests", async () => {
  const server = createServer((_q, r) => r.end("pong")).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      let data = "";
      pool.dispatch({ method: "GET", path: "/" }, {
        onRequestStart() {},
        onResponseStart() {},
        onResponseData(_c, chunk) { data += chunk.toString(); },
        onResponseEnd() { resolve(data); },
        onResponseError(_c, e) { reject(e); },
      });
    });
    assert.equal(body, "pong");
  } finally {
    await pool.close();
    server.close();
  }
});

test("undici-pool: proxies do not load undici's index (fetch, WebSocket, caches)", () => {
  const script = `
    import { createRequire } from "node:module";
    await import(${JSON.stringify(join(PROJECT_ROOT, "dist", "proxy", "agent.js"))});
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes("undici"));
    process.stdout.write(JSON.stringify({ pool: loaded.some((p) => p.endsWith("pool.js")), index: loaded.some((p) => /undici[\\\\/]index\\.js$/.test(p)) }));`;
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: PROJECT_ROOT, encoding: "utf8" }));
  assert.deepEqual(out, { pool: true, index: false });
});
