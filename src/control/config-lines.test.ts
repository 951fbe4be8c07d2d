// Configurations made once for many proxies, and kept across snapshots, must be exactly what each proxy's own
// configuration would be (buildProxyConfig): checked for every workload of a mesh with replicas, Sidecars, a
// gateway, workloads behind no Service, and after changes of every reach.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_MESH } from "../api/mesh.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import { MemoryStore } from "../store/memory.js";
import { ConfigLines, configOf } from "./config-lines.js";
import { buildProxyConfig } from "./proxy-config.js";
import type { ConfigDelta, EndpointTable } from "../wire/protocol.js";
import { manifestOf } from "../api/convert.js";
import { stateFrom, stateFromDelta, type ProxyState } from "../proxy/state.js";
import type { ConfigBody } from "./config-lines.js";

const deploy = (ns: string, name: string, replicas = 1, labels = `{app: ${name}}`) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  replicas: ${replicas}\n  selector: {matchLabels: ${labels}}\n  template:\n    metadata: {labels: ${labels}}\n    spec: {containers: [{name: app, image: app, ports: [{containerPort: 8080}]}]}`;
const service = (ns: string, name: string, app = name) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: {selector: {app: ${app}}, ports: [{name: http, port: 80, targetPort: 8080}]}`;

function mesh(): string {
  const docs: string[] = [];
  for (const ns of ["a", "b", "c"]) {
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}`);
    for (const name of ["one", "two", "three"]) docs.push(deploy(ns, name, name === "two" ? 3 : 1), service(ns, name));
    docs.push(deploy(ns, "lonely")); // behind no Service
  }
  docs.push(service("a", "both", "one")); // a second Service over a/one
  docs.push("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: b}\nspec: {egress: [{hosts: [\"./*\"]}]}");
  docs.push("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: three, namespace: c}\nspec: {workloadSelector: {labels: {app: three}}, egress: [{hosts: [\"./*\", \"a/*\"]}]}");
  docs.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}`, deploy("istio-system", "ingress", 2, "{istio: ingressgateway}").replace("template:\n    metadata: {", "template:\n    metadata: {annotations: {inject.istio.io/templates: gateway}, "));
  docs.push("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec: {selector: {matchLabels: {app: one}}, rules: [{from: [{source: {namespaces: [b]}}]}]}");
  return docs.join("\n---\n");
}

const parse = (text: string) => {
  const p = parseTexts([{ text, file: "t.yaml" }], DEFAULT_MESH);
  assert.deepEqual(p.issues.filter((i) => i.severity === "error"), []);
  return p.resources;
};

/** What a proxy holds, comparable: its documents (as manifests, by key), mesh, endpoints, names and roots. */
const held = (s: ProxyState | { error: string }) => {
  assert.ok(!("error" in s), "error" in s ? s.error : "");
  const { version: _, ...config } = s.config;
  return { resources: [...s.snapshot.resources.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, r]) => [k, manifestOf(r)]), config: JSON.parse(JSON.stringify(config)) as unknown };
};

/** Per workload: the body it was last given and the state a proxy made of it, for the next delta. */
type Proxies = Map<string, { body: ConfigBody; state: ProxyState }>;

function agree(store: MemoryStore, lines: ConfigLines, endpoints: EndpointTable, names: Record<string, string>, proxies: Proxies = new Map()): number {
  const snapshot = store.snapshot();
  lines.begin(snapshot, endpoints, names);
  let n = 0;
  for (const w of Registry.of(snapshot).workloads) {
    // As sent: JSON (an absent outsideRoots is no member).
    const body = lines.body(w);
    const whole = configOf(7, w.id, body);
    assert.deepEqual(whole, JSON.parse(JSON.stringify(buildProxyConfig(snapshot, w, 7, endpoints, names))), w.id);
    const state = stateFrom(whole) as ProxyState;
    // The delta from what this proxy held makes of its state exactly what the whole configuration makes.
    const before = proxies.get(w.id);
    if (before) {
      const delta = JSON.parse(`{"version":7,"base":${before.state.version},"workload":${JSON.stringify(w.id)},${lines.delta(before.body.parts, body).toString().slice(0, -3)}}`) as ConfigDelta;
      assert.deepEqual(held(stateFromDelta(before.state, delta)), held(state), `${w.id}: delta ${JSON.stringify(delta).slice(0, 300)}`);
    }
    proxies.set(w.id, { body, state: { ...state, version: 3 } });
    n++;
  }
  return n;
}

test("config lines: every proxy's shared configuration is exactly its own, before and after changes", () => {
  const store = new MemoryStore(parse(mesh()));
  const lines = new ConfigLines();
  const reg = Registry.of(store.snapshot());
  const endpoints: EndpointTable = Object.fromEntries(reg.workloads.map((w, i): [string, Record<string, string>] => [w.id, i % 4 === 0 ? {} : { "8080": `${w.address}:8080` }]));
  const proxies: Proxies = new Map();
  assert.ok(agree(store, lines, endpoints, { "x.example:80": "127.0.0.9:80" }, proxies) > 15);
  // A policy in one namespace, a Sidecar, a Service, a Deployment's replicas, a removal: each then compared again.
  for (const change of [
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: q, namespace: b}\nspec: {action: DENY, rules: [{to: [{operation: {paths: [\"/x\"]}}]}]}",
    "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: a}\nspec: {egress: [{hosts: [\"./*\", \"c/*\"]}]}",
    service("c", "added", "lonely"),
    deploy("a", "two", 1),
  ]) {
    store.commit({ upsert: parse(change), remove: [] });
    agree(store, lines, endpoints, {}, proxies);
  }
  store.commit({ upsert: [], remove: [{ kind: "Sidecar", namespace: "b", name: "default" }] });
  agree(store, lines, { ...endpoints, "a/one": { "8080": "127.1.1.1:9999" } }, {}, proxies);
  // Endpoints and names alone: a delta of those, and the proxy's snapshot stays.
  const { "b/two-1": _gone, ...fewer } = endpoints;
  agree(store, lines, { ...fewer, "a/one": { "8080": "127.1.1.1:9998" } }, { "y.example:80": "127.0.0.8:80" }, proxies);
});
