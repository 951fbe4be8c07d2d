// gRPC through the mesh with real processes: a grpc-js client → ingress
// gateway (GRPC server in h2c, and HTTPS with ALPN h2) → mTLS → sidecar →
// a grpc-js server. Metadata, trailers and status codes must survive every
// hop, and AuthorizationPolicy must see each call's method path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createRoot, issueLeaf } from "../ca/x509.js";
import { AdminClient } from "../control/admin-client.js";
import { readAdminToken } from "../control/admin-credential.js";
import { MeshProcess } from "../scenario/processes.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const identity = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
const SERVICE = {
  hello: { path: "/greeter.Greeter/Hello", requestStream: false, responseStream: false, ...identity },
  forbidden: { path: "/greeter.Greeter/Forbidden", requestStream: false, responseStream: false, ...identity },
  fail: { path: "/greeter.Greeter/Fail", requestStream: false, responseStream: false, ...identity },
};

/** The application: a real gRPC server, answering with a trailer, and NOT_FOUND for Fail. */
const serverScript = (port: number) => `
const grpc = require("@grpc/grpc-js");
const id = { requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };
const s = new grpc.Server();
const answer = (call, cb) => {
  const trailer = new grpc.Metadata(); trailer.set("x-served-by", "greeter");
  const who = call.metadata.get("x-caller")[0] ?? "nobody";
  cb(null, Buffer.from("hello " + call.request.toString() + " from " + who), trailer);
};
s.addService({
  hello: { path: "/greeter.Greeter/Hello", requestStream: false, responseStream: false, ...id },
  forbidden: { path: "/greeter.Greeter/Forbidden", requestStream: false, responseStream: false, ...id },
  fail: { path: "/greeter.Greeter/Fail", requestStream: false, responseStream: false, ...id },
}, { hello: answer, forbidden: answer, fail: (_c, cb) => cb({ code: grpc.status.NOT_FOUND, details: "no such greeting" }) });
s.bindAsync("127.0.0.1:${port}", grpc.ServerCredentials.createInsecure(), () => {});
`;

/** A client application in the mesh: retries until its sidecar is ready, then prints one JSON report. */
const callerScript = (target: string) => `
const grpc = require("@grpc/grpc-js");
const c = new grpc.Client("${target}", grpc.credentials.createInsecure());
const one = (method) => new Promise((resolve) => {
  const md = new grpc.Metadata(); md.set("x-caller", "caller");
  const path = "/greeter.Greeter/" + method[0].toUpperCase() + method.slice(1);
  c.makeUnaryRequest(path, (b) => b, (b) => b, Buffer.from("mesh"), md, { deadline: Date.now() + 5000 }, (err, reply) =>
    resolve(err ? { method, code: err.code } : { method, code: 0, reply: reply.toString() }));
});
(async () => {
  for (let i = 0; i < 100 && (await one("hello")).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  const results = [];
  for (const m of ["hello", "forbidden", "fail"]) results.push(await one(m));
  console.log(JSON.stringify({ done: true, results }));
  c.close();
})();
`;

function call(client: grpc.Client, method: keyof typeof SERVICE, body: string): Promise<{ code: number; reply?: string; trailer?: string; details?: string }> {
  return new Promise((resolve) => {
    const md = new grpc.Metadata();
    md.set("x-caller", "test");
    // The callback and the status event (which carries the trailers) come separately: answer when both are in.
    let result: { code: number; reply?: string; details?: string } | undefined;
    let trailer: string | undefined | null = null;
    const done = () => result && trailer !== null && resolve({ ...result, trailer });
    const c = client.makeUnaryRequest(SERVICE[method].path, identity.requestSerialize, identity.responseDeserialize, Buffer.from(body), md, { deadline: Date.now() + 10_000 }, (err, reply) => {
      result = err ? { code: err.code, details: err.details } : { code: 0, reply: reply?.toString() };
      done();
    });
    c.on("status", (st: grpc.StatusObject) => {
      trailer = st.metadata.get("x-served-by")[0]?.toString();
      done();
    });
  });
}

test("gRPC through an ingress gateway (h2c and TLS with ALPN h2) to a sidecar: status, metadata, trailers, L7 authorization", { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-grpc-"));
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) };
  const root = await createRoot("greeter", validity);
  const leaf = await issueLeaf(root, { commonName: "greeter.example.com", dnsNames: ["greeter.example.com"], validity });
  const port = 21_000 + Math.floor(Math.random() * 20_000);
  const cp = new MeshProcess("control plane", ["up", "--json", "--state-dir", dir, "--port", "0", "--admin-port", "0", "--loopback"]);
  const procs: MeshProcess[] = [];
  const clients: grpc.Client[] = [];
  try {
    const ready = await cp.waitFor((l) => l.ready === true);
    const adminAddr = String(ready.admin);
    const admin = new AdminClient(adminAddr, readAdminToken(String(ready.adminTokenFile)));
    const cliEnv = { ZEROMESH_ADMIN_TOKEN_FILE: String(ready.adminTokenFile) };
    const res = await admin.call("POST", "/v1/apply", { files: [{ file: "grpc.yaml", text: [
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: edge}",
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}",
      `apiVersion: v1\nkind: Service\nmetadata: {name: greeter, namespace: shop}\nspec: {selector: {app: greeter}, ports: [{name: grpc, port: ${port}}]}`,
      "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: edge}\nspec: {selector: {gw: edge}, ports: [{name: grpc, port: 80, targetPort: 9080}, {name: https, port: 443, targetPort: 9443}]}",
      `apiVersion: v1\nkind: Secret\nmetadata: {name: greeter-credential, namespace: edge}\ntype: kubernetes.io/tls\ndata: {tls.crt: ${b64(leaf.certPem)}, tls.key: ${b64(leaf.keyPem)}}`,
      "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: greeter, namespace: shop}\nspec:\n  selector: {gw: edge}\n  servers:\n  - {port: {number: 80, name: grpc, protocol: GRPC}, hosts: [greeter.example.com]}\n  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [greeter.example.com], tls: {mode: SIMPLE, credentialName: greeter-credential}}",
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: greeter, namespace: shop}\nspec: {hosts: [greeter.example.com], gateways: [greeter], http: [{match: [{uri: {prefix: /greeter.Greeter/}}], route: [{destination: {host: greeter, port: {number: ${port}}}}]}]}`,
      // Only the caller's sidecar applies this mesh route: an answer from it proves the tunnel's HTTP/2 was read per request.
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: greeter-mesh, namespace: shop}\nspec:\n  hosts: [greeter.shop.svc.cluster.local]\n  http:\n  - {match: [{uri: {exact: /greeter.Greeter/Fail}}], directResponse: {status: 404}}\n  - {route: [{destination: {host: greeter.shop.svc.cluster.local, port: {number: ${port}}}}]}`,
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: no-forbidden, namespace: shop}\nspec:\n  selector: {matchLabels: {app: greeter}}\n  action: DENY\n  rules: [{to: [{operation: {paths: [/greeter.Greeter/Forbidden]}}]}]",
    ].join("\n---\n") }] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    procs.push(new MeshProcess("greeter", ["run", "--admin", adminAddr, "--namespace", "shop", "--name", "greeter", "--labels", "app=greeter", "--port", String(port), "--access-log", "off", "--", process.execPath, "-e", serverScript(port)], { env: cliEnv }));
    const gw = new MeshProcess("gateway", ["gateway", "--admin", adminAddr, "--namespace", "edge", "--name", "edge", "--labels", "gw=edge", "--port", "9080", "--port", "9443", "--access-log", "off"], { env: cliEnv });
    procs.push(gw);
    const [plainAt, tlsAt] = await gw.listening();
    const h2c = new grpc.Client(plainAt!, grpc.credentials.createInsecure(), { "grpc.default_authority": "greeter.example.com" });
    const h2 = new grpc.Client(tlsAt!, grpc.credentials.createSsl(Buffer.from(root.certPem)), { "grpc.ssl_target_name_override": "greeter.example.com", "grpc.default_authority": "greeter.example.com" });
    clients.push(h2c, h2);

    // The sidecar and the gateway come up on their own: wait until a call goes through.
    let first = await call(h2c, "hello", "world");
    for (let i = 0; i < 100 && first.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      first = await call(h2c, "hello", "world");
    }
    assert.deepEqual(first, { code: 0, reply: "hello world from test", trailer: "greeter" }, "h2c: reply, request metadata and the response trailer all cross the mesh");
    assert.deepEqual(await call(h2, "hello", "tls"), { code: 0, reply: "hello tls from test", trailer: "greeter" }, "TLS with ALPN h2 at the gateway");

    const denied = await call(h2c, "forbidden", "x");
    assert.equal(denied.code, grpc.status.PERMISSION_DENIED, `the sidecar's 403 reaches the client as PERMISSION_DENIED (${denied.details})`);
    const failed = await call(h2, "fail", "x");
    assert.deepEqual([failed.code, failed.details], [grpc.status.NOT_FOUND, "no such greeting"], "the application's own status travels in the trailers");

    // Inside the mesh: a grpc-js client finds its sidecar through http_proxy (CONNECT), as gRPC clients do.
    const caller = new MeshProcess("caller", ["run", "--admin", adminAddr, "--namespace", "shop", "--name", "caller", "--access-log", "off", "--", process.execPath, "-e", callerScript(`greeter.shop.svc.cluster.local:${port}`)], { env: cliEnv });
    procs.push(caller);
    const report = await caller.waitFor((l) => l.done === true, 30_000);
    assert.deepEqual(report.results, [
      { method: "hello", code: 0, reply: "hello mesh from caller" },
      { method: "forbidden", code: grpc.status.PERMISSION_DENIED },
      { method: "fail", code: grpc.status.UNIMPLEMENTED },
    ], "allowed, denied at the destination (403), and answered by the caller's own sidecar route (404)");

    // Many calls share one HTTP/2 connection at each hop.
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => call(h2c, "hello", String(i))));
    assert.ok(many.every((r, i) => r.code === 0 && r.reply === `hello ${i} from test`));
  } finally {
    for (const c of clients) c.close();
    for (const p of procs) await p.stop();
    await cp.stop();
  }
});
