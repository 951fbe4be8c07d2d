import { test } from "node:test";
import assert from "node:assert/strict";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import { Registry } from "../registry/registry.js";
import { serviceRules, servicesJump } from "./services.js";

const reg = Registry.of(snapshotOf(`${meshYaml([{ ns: "a", name: "web", port: 8080, replicas: 3 }, { ns: "a", name: "idle", port: 9000 }])}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: a}
spec: {hosts: [api.example.com], addresses: [192.0.2.9], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
`));
const web = reg.services.find((s) => s.hostname === "web.a.svc.cluster.local")!;
const cip = web.addresses[0]!;

test("service rules: each endpoint takes an equal share, the last the rest; only Services, only endpoints that listen", () => {
  const rules = serviceRules(reg, { "a/web": { 8080: "10.244.0.4:8080" }, "a/web-1": { 8080: "10.244.0.3:8080" }, "a/web-2": {} });
  assert.equal(rules, [
    "*nat", ":ZM_SERVICES - [0:0]",
    `-A ZM_SERVICES -d ${cip}/32 -p tcp --dport 8080 -m statistic --mode random --probability 0.50000 -j DNAT --to-destination 10.244.0.3:8080`,
    `-A ZM_SERVICES -d ${cip}/32 -p tcp --dport 8080 -j DNAT --to-destination 10.244.0.4:8080`,
    "COMMIT", "",
  ].join("\n"));
  const three = serviceRules(reg, { "a/web": { 8080: "10.244.0.2:8080" }, "a/web-1": { 8080: "10.244.0.3:8080" }, "a/web-2": { 8080: "10.244.0.4:8080" } });
  assert.deepEqual([...three.matchAll(/probability (\S+)/g)].map((m) => m[1]), ["0.33333", "0.50000"]);
  assert.doesNotMatch(three, /192\.0\.2\.9/, "a ServiceEntry's address is the sidecar's to route, not kube-proxy's");
  assert.equal(serviceRules(reg, {}), "*nat\n:ZM_SERVICES - [0:0]\nCOMMIT\n", "no endpoint: no rule (the connection goes nowhere, as with kube-proxy's reject)");
});

test("service rules: the jump is made once, into OUTPUT, for TCP", () => {
  assert.equal(servicesJump(), "*nat\n:ZM_SERVICES - [0:0]\n-A OUTPUT -p tcp -j ZM_SERVICES\nCOMMIT\n");
});
