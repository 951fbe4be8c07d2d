// Finding 3: slow clients exhausted proxies. Listeners fed by "connection"
// events never timed out partial headers, nothing capped connections, and
// plaintext to a STRICT port was read up to its headers before being refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type RunningApp } from "../app/server.js";
import { send, type ClientRequest } from "../scenario/client.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh, type RunningMesh } from "../testing/mesh.js";
import { rawClient, within } from "../testing/net.js";
import type { ListenerLimits } from "../proxy/limits.js";

const BASE = meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]);
const STRICT = `${BASE}\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict, namespace: b}\nspec: {mtls: {mode: STRICT}}`;
const PARTIAL = "GET / HTTP/1.1\r\nhost: web.b\r\nx-slow: ";
const toWeb: ClientRequest = { scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/", headers: {} };

async function withMesh(limits: Partial<ListenerLimits>, body: (m: RunningMesh, call: () => Promise<number | string>) => Promise<void>): Promise<void> {
  const web: RunningApp = await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1");
  const m = await startMesh({ yaml: BASE, proxies: { "a/client": undefined, "b/web": { host: "127.0.0.1", port: web.port } }, options: { outboundPort: 15013, limits } });
  const call = async () => {
    const r = await send(toWeb, { proxy: m.outbound("a/client") });
    return r.kind === "response" ? r.status : r.kind === "error" ? r.error : r.kind;
  };
  try {
    await body(m, call);
  } finally {
    await m.stop();
    await web.close();
  }
}

test("slow clients: beyond the per-listener cap new connections are reset at once, and a client already connected keeps working", { timeout: 60_000 }, async () => {
  await withMesh({ maxConnections: 50 }, async (m, call) => {
    assert.equal(await call(), 200, "the client's sidecar now holds a pooled connection to web's");
    const { host, port } = m.listener("b/web", 8080);
    const slow = Array.from({ length: 200 }, () => rawClient(host, port, PARTIAL));
    try {
      const ends = await Promise.all(slow.map((c) => within(c.ended, 3000, "open" as const)));
      const reset = ends.filter((e) => e === "reset").length;
      assert.ok(reset >= 100, `${reset} of 200 slow connections were reset (cap 50)`);
      assert.equal(ends.filter((e) => e === "open").length, 200 - reset, "the rest are held, not closed");
      assert.equal(await call(), 200, "the existing client still gets through");
    } finally {
      for (const c of slow) c.socket.destroy();
    }
  });
});

test("slow clients: a partial-header connection is closed after the header timeout while legitimate requests pass", { timeout: 60_000 }, async () => {
  await withMesh({ headersTimeoutMs: 300 }, async (m, call) => {
    const { host, port } = m.listener("b/web", 8080);
    const slow = Array.from({ length: 200 }, () => rawClient(host, port, PARTIAL));
    try {
      assert.equal(await call(), 200, "a legitimate request is served meanwhile");
      // Far beyond 300 ms, far below "never".
      const ends = await Promise.all(slow.map((c) => within(c.ended, 10_000, "open" as const)));
      assert.equal(ends.filter((e) => e === "open").length, 0, "every partial-header connection was closed");
      assert.match(slow[0]!.received(), /^HTTP\/1\.1 408 /);
      assert.equal(await call(), 200);
    } finally {
      for (const c of slow) c.socket.destroy();
    }
  });
});

test("slow clients: a request whose body stops coming is ended after the stream idle timeout, at a sidecar's inbound and outbound", { timeout: 60_000 }, async () => {
  await withMesh({ streamIdleMs: 500 }, async (m, call) => {
    const stalled = "POST / HTTP/1.1\r\nhost: web.b\r\ncontent-length: 10\r\n\r\nabc";
    const inbound = m.listener("b/web", 8080);
    const outbound = m.outbound("a/client");
    const clients = [
      ...Array.from({ length: 20 }, () => rawClient(inbound.host, inbound.port, stalled)),
      ...Array.from({ length: 20 }, () => rawClient(outbound.host, outbound.port, stalled.replace("POST / ", "POST http://web.b:8080/ "))),
    ];
    try {
      assert.equal(await call(), 200, "a legitimate request is served meanwhile");
      const ends = await Promise.all(clients.map((c) => within(c.ended, 10_000, "open" as const)));
      assert.equal(ends.filter((e) => e === "open").length, 0, "every stalled upload was ended, none held for ever");
      assert.equal(await call(), 200);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
  });
});

test("slow clients: plaintext to a STRICT port is reset at its first bytes, before any end of headers", { timeout: 30_000 }, async () => {
  await withMesh({}, async (m, call) => {
    m.push(STRICT);
    const { host, port } = m.listener("b/web", 8080);
    const c = rawClient(host, port, "GET / HTTP/1.1\r\n");
    try {
      // The default header timeout is 10 s: ending within 3 s means the first bytes decided it.
      assert.equal(await within(c.ended, 3000, "open"), "reset");
      assert.equal(await call(), 200, "mesh mTLS still gets through");
    } finally {
      c.socket.destroy();
    }
  });
});
