import { test } from "node:test";
import assert from "node:assert/strict";
import { selectProtocol } from "../api/protocol.js";
import { snapshotOf } from "../testing/helpers.js";
import { candidateNames } from "./dns.js";
import { injectsSidecar, isGatewayPod } from "./injection.js";
import { Registry } from "./registry.js";

test("dns: Kubernetes name forms from a pod's namespace", () => {
  const table: [string, string, string[]][] = [
    ["reviews", "bookinfo", ["reviews.bookinfo.svc.cluster.local", "reviews"]],
    ["reviews.other", "bookinfo", ["reviews.other.svc.cluster.local", "reviews.other"]],
    ["reviews.other.svc", "bookinfo", ["reviews.other.svc.cluster.local", "reviews.other.svc"]],
    ["reviews.other.svc.cluster.local", "bookinfo", ["reviews.other.svc.cluster.local"]],
    ["httpbin.org", "default", ["httpbin.org.svc.cluster.local", "httpbin.org"]],
    ["WWW.Google.com.", "default", ["www.google.com"]],
  ];
  for (const [name, ns, want] of table) assert.deepEqual(candidateNames(name, ns), want, name);
});

test("injection: namespace label, revision label, per-pod overrides", () => {
  const table: [Record<string, string>, Record<string, string>, Record<string, string>, boolean][] = [
    [{ "istio-injection": "enabled" }, {}, {}, true],
    [{ "istio.io/rev": "canary" }, {}, {}, true],
    [{}, {}, {}, false],
    [{ "istio-injection": "enabled" }, { "sidecar.istio.io/inject": "false" }, {}, false],
    [{ "istio-injection": "enabled" }, {}, { "sidecar.istio.io/inject": "false" }, false],
    [{}, { "sidecar.istio.io/inject": "true" }, {}, true],
    [{}, {}, { "sidecar.istio.io/inject": "true" }, true],
    [{ "istio-injection": "disabled" }, { "sidecar.istio.io/inject": "true" }, {}, false],
  ];
  for (const [namespaceLabels, podLabels, podAnnotations, want] of table) {
    assert.equal(injectsSidecar({ namespaceLabels, podLabels, podAnnotations }), want, JSON.stringify([namespaceLabels, podLabels, podAnnotations]));
  }
  assert.equal(isGatewayPod({ "inject.istio.io/templates": "gateway" }, {}), true);
  assert.equal(isGatewayPod({ "inject.istio.io/templates": "gateway" }, { "sidecar.istio.io/inject": "false" }), false);
  assert.equal(isGatewayPod({}, {}), false);
});

test("protocol selection: appProtocol, then name prefix, else auto", () => {
  const table: [string | undefined, string | undefined, string][] = [
    ["http", undefined, "HTTP"], ["http-web", undefined, "HTTP"], ["http2", undefined, "HTTP2"], ["grpc-api", undefined, "GRPC"],
    ["grpc-web", undefined, "GRPC"], ["https", undefined, "HTTPS"], ["tls-db", undefined, "TLS"], ["tcp-postgres", undefined, "TCP"],
    ["mongo", undefined, "MONGO"], ["redis-x", undefined, "REDIS"], ["mysql", undefined, "MYSQL"], ["web", undefined, "AUTO"],
    [undefined, undefined, "AUTO"], ["httpx", undefined, "AUTO"], ["web", "http", "HTTP"], ["http", "tcp", "TCP"], ["x", "kubernetes.io/h2c", "HTTP2"],
  ];
  for (const [name, app, want] of table) assert.equal(selectProtocol(name, app), want, `${name}/${app}`);
  assert.equal(selectProtocol("http", undefined, "UDP"), "UDP");
});

const FIXTURE = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web-sa
      containers: [{name: web, image: x, ports: [{name: http-web, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http-web}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm1, namespace: shop}
spec: {address: 10.9.8.7, labels: {app: vm}, serviceAccount: vm-sa, ports: {http: 9000}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: shop}
spec:
  hosts: [vm.shop.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
  ports: [{number: 9000, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wiki, namespace: shop}
spec:
  hosts: ["*.wikipedia.org"]
  exportTo: ["."]
  ports: [{number: 443, name: tls, protocol: TLS}]`;

test("registry: Deployment replicas, identities, named targetPorts", () => {
  const reg = Registry.of(snapshotOf(FIXTURE));
  const web = reg.instancesOf("shop/web");
  assert.deepEqual(web.map((w) => w.id), ["shop/web", "shop/web-1", "shop/web-2"]);
  assert.equal(web[0]!.spiffe, "spiffe://cluster.local/ns/shop/sa/web-sa");
  assert.equal(web[0]!.principal, "cluster.local/ns/shop/sa/web-sa");
  assert.equal(new Set(web.map((w) => w.address)).size, 3, "each instance has its own address");
  const svc = reg.lookup("web", "shop")[0]!;
  assert.deepEqual(reg.endpoints(svc, svc.ports[0]!).map((e) => [e.workload.id, e.port]), [["shop/web", 8080], ["shop/web-1", 8080], ["shop/web-2", 8080]]);
  assert.equal(reg.portProtocol(web[0]!, 8080), "HTTP");
});

test("registry: WorkloadEntry behind a ServiceEntry, wildcard hosts and exportTo", () => {
  const reg = Registry.of(snapshotOf(FIXTURE));
  const vm = reg.workload("shop/vm1")!;
  assert.equal(vm.address, "10.9.8.7");
  assert.equal(vm.sidecar, true);
  const se = reg.lookup("vm.shop.internal", "default")[0]!;
  assert.deepEqual(reg.endpoints(se, se.ports[0]!).map((e) => e.workload.id), ["shop/vm1"]);
  const wiki = reg.lookup("en.wikipedia.org", "shop")[0]!;
  assert.equal(wiki.hostname, "*.wikipedia.org");
  assert.equal(reg.visibleTo(wiki, "shop"), true);
  assert.equal(reg.visibleTo(wiki, "other"), false);
  assert.equal(reg.isClusterName("web.shop", "default"), true);
  assert.equal(reg.isClusterName("vm.shop.internal", "default"), false);
});
