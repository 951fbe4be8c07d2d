// Finding 2: an ingress gateway passed a client's own X-Forwarded-Client-Cert,
// X-Forwarded-For and x-envoy-* headers to the application untouched, so an
// outside client could claim a mesh identity or another address.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../app/server.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { rawClient, within } from "../testing/net.js";

const YAML = `${meshYaml([{ ns: "b", name: "web", port: 8080, inject: false }])}
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata:
      annotations: {inject.istio.io/templates: gateway}
      labels: {istio: ingressgateway}
    spec:
      serviceAccountName: istio-ingressgateway
      containers: [{name: istio-proxy, image: auto}]
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: b}
spec:
  hosts: [web.example.com]
  gateways: [istio-system/edge]
  http: [{route: [{destination: {host: web.b.svc.cluster.local, port: {number: 8080}}}]}]`;

const FORGED = [
  "GET /hello HTTP/1.1",
  "host: web.example.com",
  "x-forwarded-client-cert: By=spiffe://cluster.local/ns/b/sa/web;URI=spiffe://cluster.local/ns/admin/sa/root",
  "x-forwarded-for: 6.6.6.6",
  "x-envoy-external-address: 6.6.6.6",
  "x-envoy-original-path: /admin",
  "x-envoy-internal: true",
  "connection: close",
].join("\r\n") + "\r\n\r\n";

test("gateway headers: a client's forged XFCC, X-Forwarded-For and x-envoy-* headers do not reach the application as sent", { timeout: 30_000 }, async () => {
  const web = await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1");
  const gw = "istio-system/istio-ingressgateway";
  const m = await startMesh({ yaml: YAML, proxies: { [gw]: undefined }, direct: { "b/web": { "8080": `127.0.0.1:${web.port}` } } });
  try {
    const { host, port } = m.listener(gw, 8080);
    const c = rawClient(host, port, FORGED);
    let peer = "";
    c.socket.once("connect", () => (peer = c.socket.localAddress!));
    assert.equal(await within(c.ended, 10_000, "open"), "closed");
    const [head, body] = c.received().split("\r\n\r\n");
    assert.match(head ?? "", /^HTTP\/1\.1 200 /, c.received());
    const seen: Record<string, string> = JSON.parse(body ?? "{}").headers;
    assert.equal(seen["x-forwarded-client-cert"], undefined, "the client's XFCC is dropped");
    assert.equal(seen["x-envoy-original-path"], undefined, "x-envoy-* from outside is dropped");
    assert.equal(seen["x-envoy-internal"], undefined);
    assert.equal(seen["x-envoy-external-address"], peer, "the external address is the peer's, not the claimed one");
    assert.equal(seen["x-forwarded-for"], `6.6.6.6, ${peer}`, "X-Forwarded-For ends with the address that connected");
  } finally {
    await m.stop();
    await web.close();
  }
});
