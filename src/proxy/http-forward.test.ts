// forwardHttp against real servers: retries, timeouts and body replay as
// Envoy's router applies them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { RetryPolicy } from "../api/types.js";
import type { HttpRouteHandling } from "../policy/route-timing.js";
import { Pools } from "./pool.js";
import { forwardHttp, plainHeaders, retriableFailure, retriableStatus, type ForwardResult } from "./http-forward.js";
import { listen, readText } from "../testing/net.js";

/** A port nothing listens on any more: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A proxy in front of the upstream port(s) applying `route`; reports each forward's result. */
async function proxy(upstream: number | number[], route: HttpRouteHandling | undefined, results: ForwardResult[]) {
  // Several ports: attempt n goes to the n-th (the last one again after that), as retries to other endpoints do.
  const upstreamPorts = Array.isArray(upstream) ? upstream : [upstream];
  const pools = new Pools();
  const s = createServer((req: IncomingMessage, res: ServerResponse) =>
    forwardHttp(req, res, { dispatcherFor: (attempt) => pools.plainPool("127.0.0.1", upstreamPorts[Math.min(attempt, upstreamPorts.length) - 1]!) }, { path: req.url ?? "/", headers: plainHeaders(req), route }, { forwarded: (r) => results.push(r) }));
  const port = await listen(s);
  return { port, close: () => { pools.destroy(); s.closeAllConnections(); s.close(); } };
}

function call(port: number, opts: { method?: string; body?: string; path?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: opts.method ?? "GET", path: opts.path ?? "/", agent: false }, (res) => {
      void readText(res).then((body) => resolve({ status: res.statusCode!, body }), reject);
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const retries = (r: Partial<RetryPolicy>): RetryPolicy => ({ attempts: 2, on: ["5xx"], statusCodes: [], ...r });

test("retries a 5xx until the upstream answers, sending the same body each time", async () => {
  const bodies: string[] = [];
  const up = createServer((req, res) => {
    void readText(req).then((b) => {
      bodies.push(b);
      res.writeHead(bodies.length < 3 ? 503 : 200).end(`try ${bodies.length}`);
    });
  });
  const results: ForwardResult[] = [];
  const p = await proxy(await listen(up), { retries: retries({ attempts: 2 }) }, results);
  try {
    const r = await call(p.port, { method: "POST", body: "order=42" });
    assert.deepEqual(r, { status: 200, body: "try 3" });
    assert.deepEqual(bodies, ["order=42", "order=42", "order=42"]);
    assert.equal(results[0]?.attempts, 3);
  } finally {
    p.close();
    up.close();
  }
});

test("without a matching condition the first answer stands", async () => {
  let hits = 0;
  const up = createServer((_q, res) => void res.writeHead(++hits === 1 ? 500 : 200).end());
  const results: ForwardResult[] = [];
  const p = await proxy(await listen(up), { retries: retries({ on: ["gateway-error"] }) }, results);
  try {
    assert.equal((await call(p.port)).status, 500);
    assert.equal(hits, 1);
  } finally {
    p.close();
    up.close();
  }
});

test("a refused connection is retried, then answered 503", async () => {
  const port = await closedPort();
  const results: ForwardResult[] = [];
  const p = await proxy(port, { retries: retries({ attempts: 2, on: ["connect-failure"] }) }, results);
  try {
    const r = await call(p.port);
    assert.equal(r.status, 503);
    assert.match(r.body, /upstream connect error/);
    assert.equal(results[0]?.attempts, 3);
  } finally {
    p.close();
  }
});

test("the route timeout answers 504 and stops waiting", async () => {
  const up = createServer((_q, res) => void setTimeout(() => res.end("late"), 2_000).unref());
  const results: ForwardResult[] = [];
  const p = await proxy(await listen(up), { timeoutMs: 200, retries: retries({ attempts: 0 }) }, results);
  try {
    assert.deepEqual(await call(p.port), { status: 504, body: "upstream request timeout" });
  } finally {
    p.close();
    up.closeAllConnections();
    up.close();
  }
});

test("a per-try timeout counts as a 5xx for retries; the next try may succeed", async () => {
  let hits = 0;
  const up = createServer((_q, res) => {
    if (++hits === 1) return void setTimeout(() => res.end("late"), 2_000).unref();
    res.end("quick");
  });
  const results: ForwardResult[] = [];
  const p = await proxy(await listen(up), { retries: retries({ attempts: 1, perTryTimeoutMs: 200 }) }, results);
  try {
    assert.deepEqual(await call(p.port), { status: 200, body: "quick" });
    assert.equal(results[0]?.attempts, 2);
  } finally {
    p.close();
    up.closeAllConnections();
    up.close();
  }
});

test("a pooled connection the upstream closed is replaced without failing the request", async () => {
  // The upstream drops each connection on its second request, as a server closing an idle connection would.
  const served = new WeakMap<object, number>();
  const up = createServer((req, res) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    if (n > 1) return void req.socket.destroy();
    res.end("ok");
  });
  const results: ForwardResult[] = [];
  const p = await proxy(await listen(up), undefined, results);
  try {
    for (let i = 0; i < 5; i++) assert.equal((await call(p.port)).status, 200);
    assert.ok(results.some((r) => r.attempts === 2), "some request went out on a stale pooled connection");
  } finally {
    p.close();
    up.close();
  }
});

const S = retries({ on: ["gateway-error", "retriable-status-codes", "unavailable"], statusCodes: [409, 302] });
// 302 and 200 below 400: a listed status code is retried whatever its class; an unlisted 2xx never is.
for (const [status, grpc, want] of [[502, undefined, true], [500, undefined, false], [409, undefined, true], [302, undefined, true], [200, undefined, false], [200, "14", true], [200, "2", false]] as const) {
  test(`retriableStatus ${status}${grpc ? ` grpc-status ${grpc}` : ""}: ${want}`, () => assert.equal(retriableStatus(S, status, grpc), want));
}
for (const [on, failure, want] of [[["connect-failure"], "connect-failure", true], [["connect-failure"], "reset", false], [["reset"], "per-try-timeout", true], [["gateway-error"], "reset", false], [["5xx"], "reset", true]] as const) {
  test(`retriableFailure ${on.join(",")} on ${failure}: ${want}`, () => assert.equal(retriableFailure(retries({ on: [...on] }), failure), want));
}

test("a retry goes to the next endpoint: a refused replica does not fail the request", async () => {
  const down = await closedPort();
  const up = createServer((_q, res) => void res.end("from the live replica"));
  const results: ForwardResult[] = [];
  const p = await proxy([down, await listen(up)], { retries: retries({ attempts: 2, on: ["connect-failure"] }) }, results);
  try {
    assert.deepEqual(await call(p.port), { status: 200, body: "from the live replica" });
    assert.equal(results[0]?.attempts, 2);
  } finally {
    p.close();
    up.close();
  }
});
