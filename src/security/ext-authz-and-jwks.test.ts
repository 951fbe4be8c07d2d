// Attacks through the mesh's own callouts: an authorizer that answers with a
// malformed or oversized gRPC reply, and a key-set host that never answers.
// Neither may crash a proxy, stall it past the configured timeout, or let a
// request through: the request fails closed, and requests without a token are
// unaffected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createH2cServer } from "node:http2";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { parse } from "yaml";
import type { Issue } from "../api/errors.js";
import { DEFAULT_MESH, mergeMeshConfig } from "../api/mesh.js";
import { startApp } from "../app/server.js";
import { send } from "../scenario/client.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";

const listenOn = (s: { listen: (port: number, host: string, cb: () => void) => unknown; address: () => unknown }) =>
  new Promise<number>((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));

test("a gRPC authorizer answering a bad grpc-message, or a huge reply, is a failed check: 403, and the proxy lives on", { timeout: 30_000 }, async () => {
  let mode: "bad-message" | "huge" = "bad-message";
  const evil = createH2cServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/grpc" });
      if (mode === "huge") {
        const chunk = Buffer.alloc(64 * 1024, 1);
        for (let i = 0; i < 40; i++) res.write(chunk);
      }
      res.addTrailers({ "grpc-status": "7", "grpc-message": "%" });
      res.end();
    });
  });
  const port = await listenOn(evil);
  const app = await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1");
  const issues: Issue[] = [];
  const mesh = mergeMeshConfig(DEFAULT_MESH, parse(`extensionProviders: [{name: evil, envoyExtAuthzGrpc: {service: evil.b.svc.cluster.local, port: ${port}, timeout: 5s}}]`), { file: "mesh", doc: 1 }, issues);
  const yaml = meshYaml([{ ns: "b", name: "web", port: 8080 }, { ns: "b", name: "evil", port, portName: "grpc", inject: false }])
    + "\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext, namespace: b}\nspec: {selector: {matchLabels: {app: web}}, action: CUSTOM, provider: {name: evil}, rules: [{to: [{operation: {paths: [/guarded]}}]}]}";
  const m = await startMesh({ yaml, mesh, proxies: { "b/web": { host: app.host, port: app.port } }, direct: { "b/evil": { [port]: `127.0.0.1:${port}` } } });
  const call = (path: string) => send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path, headers: { host: "web.b:8080" } }, { direct: m.listener("b/web", 8080) });
  try {
    for (const m2 of ["bad-message", "huge"] as const) {
      mode = m2;
      const r = await call("/guarded");
      assert.deepEqual(r.kind === "response" && [r.status, r.body], [403, ""], `${m2}: ${JSON.stringify(r).slice(0, 200)}`);
      const open = await call("/open");
      assert.equal(open.kind === "response" && open.status, 200, `${m2}: the proxy still serves`);
    }
  } finally {
    await m.stop();
    await app.close();
    evil.close();
  }
});

test("a jwksUri host that accepts and never answers: tokens fail within the rule's timeout, requests without one pass", { timeout: 30_000 }, async () => {
  const held: import("node:net").Socket[] = [];
  const silent = createNetServer((s) => void held.push(s));
  const port = await listenOn(silent);
  const app = await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1");
  const yaml = meshYaml([{ ns: "b", name: "web", port: 8080 }])
    + "\n---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: jwks, namespace: b}\nspec: {hosts: [jwks.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS, location: MESH_EXTERNAL}"
    + "\n---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: b}\nspec:\n  selector: {matchLabels: {app: web}}\n  jwtRules: [{issuer: x, jwksUri: \"https://jwks.example.com/jwks\", timeout: 1s}]";
  const m = await startMesh({ yaml, names: { "jwks.example.com:443": `127.0.0.1:${port}` }, proxies: { "b/web": { host: app.host, port: app.port } } });
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const token = `${b64({ alg: "RS256" })}.${b64({ iss: "x", sub: "u" })}.AAAA`;
  const call = (headers: Record<string, string>) => send({ scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/", headers: { host: "web.b:8080", ...headers } }, { direct: m.listener("b/web", 8080) });
  try {
    const [a, b, none] = await Promise.all([call({ authorization: `Bearer ${token}` }), call({ authorization: `Bearer ${token}` }), call({})]);
    for (const r of [a, b]) assert.deepEqual(r.kind === "response" && [r.status, r.body], [401, "Jwks remote fetch is failed"], JSON.stringify(r).slice(0, 200));
    // (Answered at all: the fetch gave up at the rule's timeout; the silent host would have held it forever.)
    assert.equal(none.kind === "response" && none.status, 200);
  } finally {
    await m.stop();
    await app.close();
    for (const s of held) s.destroy();
    silent.close();
  }
});
