// `zeromesh up` starts the gateways its configuration directory declares.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loopbackAddressFor } from "../registry/registry.js";
import { send } from "../scenario/client.js";
import { MeshProcess } from "../scenario/processes.js";

const CONFIG = `apiVersion: v1
kind: Namespace
metadata: {name: edge}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: public, namespace: edge}
spec:
  selector: {matchLabels: {gw: public}}
  template:
    metadata: {labels: {gw: public}, annotations: {inject.istio.io/templates: gateway}}
    spec: {containers: [{name: istio-proxy, image: auto}]}
---
apiVersion: v1
kind: Service
metadata: {name: public, namespace: edge}
spec: {selector: {gw: public}, ports: [{name: http, port: 80, targetPort: 18080}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec: {selector: {gw: public}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hello, namespace: edge}
spec: {hosts: ["hello.example.com"], gateways: [public], http: [{directResponse: {status: 200, body: {string: "hello from the gateway"}}}]}
`;

test("up: gateways declared in the configuration are started, and stopped when removed", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-upgw-"));
  mkdirSync(join(dir, "config"));
  writeFileSync(join(dir, "config", "edge.yaml"), CONFIG);
  const up = new MeshProcess("control plane", ["up", "--json", "--state-dir", dir, "--config", join(dir, "config"), "--port", "0", "--admin-port", "0"]);
  try {
    await up.waitFor((l) => l.ready === true);
    const route = { direct: { host: loopbackAddressFor("edge/public"), port: 18080 } };
    const req = { scheme: "http" as const, host: "hello.example.com", port: 80, method: "GET", path: "/", headers: {} };
    let r = await send(req, route);
    for (let i = 0; i < 100 && !(r.kind === "response" && r.status === 200); i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await send(req, route);
    }
    assert.deepEqual(r.kind === "response" && [r.status, r.body], [200, "hello from the gateway"]);
    assert.equal((await send({ ...req, host: "other.example.com" }, route)).kind === "response" && 404, 404);

    writeFileSync(join(dir, "config", "edge.yaml"), CONFIG.split("---\napiVersion: apps/v1")[0]!);
    let gone = await send(req, route);
    for (let i = 0; i < 100 && !(gone.kind === "error" && gone.error === "refused"); i++) {
      await new Promise((res) => setTimeout(res, 100));
      gone = await send(req, route);
    }
    assert.deepEqual(gone, { kind: "error", error: "refused" }, "the gateway stopped with its Deployment");
  } finally {
    await up.stop();
  }
});
