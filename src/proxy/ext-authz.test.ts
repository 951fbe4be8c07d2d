// CUSTOM authorization with real proxies and real authorizers: a gRPC
// authorizer built from Envoy's own .proto files (as shipped with
// @grpc/grpc-js-xds) served by grpc-js, and a plain HTTP authorizer. What the
// proxy sends them and what it does with their answers is checked from both ends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { parse } from "yaml";
import { DEFAULT_MESH, mergeMeshConfig } from "../api/mesh.js";
import type { Issue } from "../api/errors.js";
import { startApp } from "../app/server.js";
import { send } from "../scenario/client.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";
import { envoyAuthorizationService } from "../testing/envoy-protos.js";

interface Received { attributes: { source?: { principal?: string }; destination?: { principal?: string; address?: { socket_address?: { port_value?: number } } }; request?: { http?: { method: string; path: string; host: string; headers: Record<string, string> } } } }

const providers = (grpcPort: number, httpPort: number) => {
  const issues: Issue[] = [];
  const mesh = mergeMeshConfig(DEFAULT_MESH, parse(`
extensionProviders:
  - name: grpc-authz
    envoyExtAuthzGrpc: {service: authz-grpc.b.svc.cluster.local, port: ${grpcPort}, timeout: 2s}
  - name: body-authz
    envoyExtAuthzHttp:
      service: authz-http.b.svc.cluster.local
      port: ${httpPort}
      includeRequestHeadersInCheck: [x-ext-authz]
      includeRequestBodyInCheck: {maxRequestBytes: 16}
  - name: partial-body-authz
    envoyExtAuthzGrpc:
      service: authz-grpc.b.svc.cluster.local
      port: ${grpcPort}
      includeRequestBodyInCheck: {maxRequestBytes: 16, allowPartialMessage: true}
  - name: http-authz
    envoyExtAuthzHttp:
      service: authz-http.b.svc.cluster.local
      port: "${httpPort}"
      pathPrefix: /check
      includeRequestHeadersInCheck: [x-ext-authz]
      includeAdditionalHeadersInCheck: {x-asked-by: mesh}
      headersToUpstreamOnAllow: [x-upstream]
      headersToDownstreamOnAllow: [x-down]
      headersToDownstreamOnDeny: [x-why]
`), { file: "mesh", doc: 1 }, issues);
  assert.deepEqual(issues, []);
  return mesh;
};

const custom = (provider: string) => `\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext, namespace: b}\nspec:\n  selector: {matchLabels: {app: web}}\n  action: CUSTOM\n  provider: {name: ${provider}}\n  rules: [{to: [{operation: {paths: ["/guarded/*"]}}]}]`;

test("CUSTOM with a gRPC authorizer built from Envoy's protos, and an HTTP one: what they are sent, and what their answers do", { timeout: 60_000 }, async () => {
  const grpcSeen: Received[] = [];
  const server = new grpc.Server();
  server.addService(envoyAuthorizationService(), {
    Check: (call: grpc.ServerUnaryCall<Received, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      grpcSeen.push(call.request);
      const allow = call.request.attributes.request?.http?.headers["x-ext-authz"] === "allow";
      cb(null, allow
        ? { status: { code: 0 }, ok_response: { headers: [{ header: { key: "x-authz-said", value: "yes" } }], headers_to_remove: ["x-remove-me"] } }
        : { status: { code: 7 }, denied_response: { status: { code: 418 }, headers: [{ header: { key: "x-why", value: "teapot" } }], body: "no tea for you" } });
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const httpSeen: { method?: string; url?: string; headers: Record<string, unknown>; body?: string }[] = [];
  const httpAuthz = createServer(async (q, s) => {
    const chunks: Buffer[] = [];
    for await (const c of q) chunks.push(c as Buffer);
    httpSeen.push({ method: q.method, url: q.url, headers: q.headers, body: Buffer.concat(chunks).toString() });
    if (q.headers["x-ext-authz"] === "allow") s.writeHead(200, { "x-upstream": "up", "x-down": "down", "x-other": "kept-away" }).end();
    else s.writeHead(401, { "x-why": "no header", "x-other": "kept-away" }).end("denied over http");
  });
  const httpPort = await listen(httpAuthz);
  const app = await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1");
  const yaml = meshYaml([{ ns: "b", name: "web", port: 8080 }, { ns: "b", name: "authz-grpc", port: grpcPort, portName: "grpc", inject: false }, { ns: "b", name: "authz-http", port: httpPort, inject: false }]);
  const m = await startMesh({
    yaml: yaml + custom("grpc-authz"), mesh: providers(grpcPort, httpPort), proxies: { "b/web": { host: app.host, port: app.port } },
    direct: { "b/authz-grpc": { [grpcPort]: `127.0.0.1:${grpcPort}` }, "b/authz-http": { [httpPort]: `127.0.0.1:${httpPort}` } },
  });
  const at = m.listener("b/web", 8080);
  const call = (path: string, headers: Record<string, string> = {}, body?: string) => send({ scheme: "http", host: "web.b", port: 8080, method: body === undefined ? "GET" : "POST", path, headers: { host: "web.b:8080", ...headers }, ...(body !== undefined ? { body } : {}) }, { direct: at });
  try {
    // gRPC: allowed, with the OK headers on the upstream request and headers_to_remove honoured.
    const ok = await call("/guarded/headers?x=1", { "x-ext-authz": "allow", "x-remove-me": "secret" });
    assert.equal(ok.kind === "response" && ok.status, 200);
    const echoed = ok.kind === "response" ? JSON.parse(ok.body ?? "{}").headers as Record<string, string> : {};
    assert.equal(echoed["x-authz-said"], "yes");
    assert.equal(echoed["x-remove-me"], undefined);
    const sent = grpcSeen[0]!.attributes;
    assert.deepEqual([sent.request?.http?.method, sent.request?.http?.path, sent.request?.http?.host], ["GET", "/guarded/headers?x=1", "web.b:8080"]);
    assert.equal(sent.request?.http?.headers["x-remove-me"], "secret", "the gRPC authorizer is sent every header");
    assert.equal(sent.destination?.principal, "spiffe://cluster.local/ns/b/sa/web", "the authorizer is told whose request it is");
    // gRPC: denied with the authorizer's own status, headers and body.
    const no = await call("/guarded/x");
    assert.deepEqual(no.kind === "response" && [no.status, no.body, no.headers?.["x-why"]], [418, "no tea for you", "teapot"]);
    // Not matched by CUSTOM: the authorizer is not asked.
    const before = grpcSeen.length;
    assert.equal((await call("/open")).kind === "response", true);
    assert.equal(grpcSeen.length, before);

    // HTTP: the original method and path after pathPrefix, only the allowed and additional headers.
    m.push(yaml + custom("http-authz"));
    const allowed = await call("/guarded/headers", { "x-ext-authz": "allow", "x-secret": "not for the authorizer", authorization: "Bearer t" });
    assert.equal(allowed.kind === "response" && allowed.status, 200);
    const got = httpSeen.at(-1)!;
    assert.deepEqual([got.method, got.url, got.headers["x-ext-authz"], got.headers["x-asked-by"], got.headers["authorization"], got.headers["x-secret"]],
      ["GET", "/check/guarded/headers", "allow", "mesh", "Bearer t", undefined]);
    const up = allowed.kind === "response" ? JSON.parse(allowed.body ?? "{}").headers as Record<string, string> : {};
    assert.deepEqual([up["x-upstream"], up["x-other"]], ["up", undefined], "only headersToUpstreamOnAllow reaches the application");
    assert.deepEqual(allowed.kind === "response" && [allowed.headers?.["x-down"], allowed.headers?.["x-other"]], ["down", undefined], "headersToDownstreamOnAllow reaches the client");
    const denied = await call("/guarded/x");
    assert.deepEqual(denied.kind === "response" && [denied.status, denied.body, denied.headers?.["x-why"], denied.headers?.["x-other"]], [401, "denied over http", "no header", undefined]);

    // includeRequestBodyInCheck: the body goes to the authorizer, and on to the application unchanged.
    m.push(yaml + custom("body-authz"));
    const posted = await call("/guarded/anything", { "x-ext-authz": "allow" }, "hello body");
    assert.equal(posted.kind === "response" && posted.status, 200);
    assert.deepEqual([httpSeen.at(-1)!.body, httpSeen.at(-1)!.headers["content-length"]], ["hello body", "10"]);
    assert.match(posted.kind === "response" ? posted.body ?? "" : "", /"content-length":"10"/, "the application got the body the authorizer saw");
    const big = await call("/guarded/anything", { "x-ext-authz": "allow" }, "x".repeat(100));
    assert.deepEqual(big.kind === "response" && [big.status, big.body], [413, "Payload Too Large"], "longer than maxRequestBytes, without allowPartialMessage");
    // allowPartialMessage: the gRPC authorizer sees the first 16 bytes and the marker header; the application gets it all.
    m.push(yaml + custom("partial-body-authz"));
    const partial = await call("/guarded/anything", { "x-ext-authz": "allow" }, "0123456789abcdefTHE-REST");
    assert.equal(partial.kind === "response" && partial.status, 200, JSON.stringify(partial));
    const seen = grpcSeen.at(-1)!.attributes.request?.http as { body?: string; headers: Record<string, string> };
    assert.deepEqual([seen.body, seen.headers["x-envoy-auth-partial-body"]], ["0123456789abcdef", "true"]);
    assert.match(partial.kind === "response" ? partial.body ?? "" : "", /"content-length":"24"/, "the whole body streams on");

    // The authorizer goes away: fail closed with 403.
    m.push(yaml + custom("http-authz"));
    await new Promise<void>((r) => httpAuthz.close(() => r()));
    httpAuthz.closeAllConnections();
    const gone = await call("/guarded/x", { "x-ext-authz": "allow" });
    assert.deepEqual(gone.kind === "response" && [gone.status, gone.body], [403, ""]);
  } finally {
    await m.stop();
    await app.close();
    server.forceShutdown();
    httpAuthz.close();
  }
});
