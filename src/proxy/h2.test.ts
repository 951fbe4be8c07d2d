// forwardH2 against real HTTP/2 servers: trailers, trailers-only answers,
// retries on gRPC's UNAVAILABLE, and a request body that streams.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, constants, createServer } from "node:http2";
import { DEFAULT_RETRIES } from "../api/kinds/virtual-service.js";
import type { HttpRouteHandling } from "../policy/route-timing.js";
import { forwardH2, h2PlainHeaders } from "./h2.js";
import type { ForwardResult } from "./http-forward.js";
import { listen, readText } from "../testing/net.js";

/** A proxy (h2c in, h2c out) in front of `upstreamPort`. */
async function proxy(upstreamPort: number, route: HttpRouteHandling | undefined, results: ForwardResult[]) {
  const session = connect(`http://127.0.0.1:${upstreamPort}`);
  const s = createServer((req, res) => forwardH2(req, res, () => session, { path: req.url, headers: h2PlainHeaders(req), route }, { forwarded: (r) => results.push(r) }));
  const port = await listen(s);
  return { port, close: () => { session.destroy(); s.close(); } };
}

function call(port: number, body: string[] = []): Promise<{ status: number; grpc?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const c = connect(`http://127.0.0.1:${port}`);
    const req = c.request({ ":method": "POST", ":path": "/svc/Method", "content-type": "application/grpc" });
    let status = 0;
    let grpc: string | undefined;
    let data = "";
    req.on("response", (h) => {
      status = Number(h[":status"]);
      grpc = h["grpc-status"] as string | undefined;
    });
    req.on("trailers", (t) => (grpc = t["grpc-status"] as string | undefined));
    req.setEncoding("utf8").on("data", (d) => (data += d));
    req.on("end", () => {
      c.close();
      resolve({ status, grpc, body: data });
    });
    req.on("error", reject);
    // The body arrives in pieces, as a streaming call's messages would.
    let i = 0;
    const next = () => (i < body.length ? (req.write(body[i++]), setTimeout(next, 20)) : req.end());
    next();
  });
}

test("h2: UNAVAILABLE is retried (Istio's default), the body is sent again, trailers reach the client", async () => {
  const bodies: string[] = [];
  const up = createServer((req, res) => {
    void readText(req).then((b) => {
      bodies.push(b);
      if (bodies.length === 1) {
        // Trailers-only: the status in one HEADERS frame that ends the stream.
        res.stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "14" }, { endStream: true });
        return;
      }
      res.writeHead(200, { "content-type": "application/grpc" });
      res.addTrailers({ "grpc-status": "0" });
      res.end(`got ${b}`);
    });
  });
  const results: ForwardResult[] = [];
  const p = await proxy(await listen(up), { retries: DEFAULT_RETRIES }, results);
  try {
    assert.deepEqual(await call(p.port, ["a", "b", "c"]), { status: 200, grpc: "0", body: "got abc" });
    assert.deepEqual(bodies, ["abc", "abc"]);
    assert.equal(results[0]?.attempts, 2);
  } finally {
    p.close();
    up.close();
  }
});

test("h2: without retries a trailers-only error stays one HEADERS frame", async () => {
  const up = createServer((_req, res) => res.stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "nope" }, { endStream: true }));
  const results: ForwardResult[] = [];
  const p = await proxy(await listen(up), { retries: { ...DEFAULT_RETRIES, attempts: 0 } }, results);
  try {
    assert.deepEqual(await call(p.port), { status: 200, grpc: "5", body: "" });
  } finally {
    p.close();
    up.close();
  }
});

test("h2: the route timeout answers 504 and cancels the upstream stream", async () => {
  let cancelled = false;
  const up = createServer((req) => req.stream.on("close", () => (cancelled = req.stream.rstCode === constants.NGHTTP2_CANCEL)));
  const results: ForwardResult[] = [];
  const p = await proxy(await listen(up), { timeoutMs: 200, retries: DEFAULT_RETRIES }, results);
  try {
    const r = await call(p.port);
    assert.deepEqual([r.status, r.body], [504, "upstream request timeout"]);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(cancelled, "the upstream stream was cancelled");
  } finally {
    p.close();
    up.close();
  }
});
