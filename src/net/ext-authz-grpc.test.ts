// The stand-in gRPC authorizer (Istio's sample) as a grpc-js client built from
// Envoy's own .proto files sees it: our CheckRequest decoding and CheckResponse
// encoding agree with Envoy's definitions. (The other direction, the proxy's
// client against a grpc-js server, is proxy/ext-authz.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { startApp } from "../app/server.js";
import { envoyAuthorizationService } from "../testing/envoy-protos.js";
import { decodeCheckRequest, decodeCheckResponse, encodeCheckRequest, encodeCheckResponse, frame, unframe } from "./ext-authz-grpc.js";

test("ext-authz gRPC: the stand-in answers Envoy's Authorization/Check as Istio's sample does, to a client built from Envoy's protos", { timeout: 20_000 }, async () => {
  const app = await startApp({ workload: "ext-authz", namespace: "foo" }, { serve: "ext-authz-grpc" }, "127.0.0.1");
  const Client = grpc.makeGenericClientConstructor(envoyAuthorizationService(), "Authorization");
  const client = new Client(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: (req: unknown, cb: (e: grpc.ServiceError | null, r: Record<string, any>) => void) => void };
  const check = (headers: Record<string, string>) => new Promise<Record<string, any>>((resolve, reject) =>
    client.Check({ attributes: { request: { http: { method: "GET", path: "/headers", host: "httpbin.foo", headers } } } }, (e, r) => (e ? reject(e) : resolve(r))));
  try {
    const ok = await check({ "x-ext-authz": "allow" });
    assert.equal(ok["status"]?.code ?? 0, 0);
    assert.deepEqual(ok["ok_response"]?.headers.map((h: { header: { key: string; value: string } }) => [h.header.key, h.header.value]), [["x-ext-authz-check-result", "allowed"]]);
    const no = await check({ "x-ext-authz": "deny" });
    assert.equal(no["status"].code, grpc.status.PERMISSION_DENIED);
    assert.equal(no["denied_response"].status.code, 403);
    assert.equal(no["denied_response"].body, "denied by ext_authz for not found header `x-ext-authz: allow` in the request");
  } finally {
    client.close();
    await app.close();
  }
});

test("ext-authz gRPC: messages survive a round trip, and gRPC framing refuses what it cannot carry", () => {
  const attrs = { source: { address: "10.0.0.1", port: 0, principal: "spiffe://cluster.local/ns/a/sa/b" }, destination: { address: "10.0.0.2", port: 8080, principal: "spiffe://cluster.local/ns/c/sa/d" }, http: { method: "POST", path: "/x?y=1", host: "h", scheme: "http", headers: { a: "1" }, protocol: "HTTP/1.1", body: "hi" }, sni: "s" };
  const back = decodeCheckRequest(unframe(frame(encodeCheckRequest(attrs))));
  assert.deepEqual(back, attrs);
  const answer = { code: 7, message: "no", denied: { status: 418, headers: [["x", "y"]] as [string, string][], body: "b" } };
  assert.deepEqual(decodeCheckResponse(encodeCheckResponse(answer)), { ...answer, ok: undefined });
  assert.throws(() => unframe(Buffer.from([0, 0, 0])), /5-byte prefix/);
  assert.throws(() => unframe(Buffer.from([1, 0, 0, 0, 0])), /compressed/);
  assert.throws(() => unframe(Buffer.from([0, 0, 0, 0, 9, 1])), /says 9 bytes/);
});
