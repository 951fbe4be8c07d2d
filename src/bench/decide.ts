// Decision throughput of the pure engine on one core, with 1,000
// AuthorizationPolicies loaded, as a ratio to the same mesh with none.
import { performance } from "node:perf_hooks";
import { DEFAULT_MESH } from "../api/mesh.js";
import { decide } from "../policy/engine.js";
import type { Request, Source } from "../policy/request.js";
import { defaultWorld } from "../policy/world.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import { Snapshot } from "../store/snapshot.js";

const NAMESPACES = 100;

function meshYaml(): string[] {
  const docs: string[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns${n}`;
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}, labels: {istio-injection: enabled}}`);
    docs.push(`apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, namespace: ${ns}}\nspec:\n  selector: {matchLabels: {app: app}}\n  template:\n    metadata: {labels: {app: app}}\n    spec: {serviceAccountName: app, containers: [{name: a, image: a, ports: [{containerPort: 8080}]}]}`);
    docs.push(`apiVersion: v1\nkind: Service\nmetadata: {name: app, namespace: ${ns}}\nspec: {selector: {app: app}, ports: [{name: http, port: 80, targetPort: 8080}]}`);
  }
  return docs;
}

/** `count` policies of realistic shape; `spread` over all namespaces or all in ns0. */
function policies(count: number, spread: boolean): string[] {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const ns = spread ? `ns${i % NAMESPACES}` : "ns0";
    const deny = i % 10 === 0;
    docs.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p${i}, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: app}}
  action: ${deny ? "DENY" : "ALLOW"}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/ns${(i + 1) % NAMESPACES}/sa/app"], notNamespaces: ["blocked-${i}"]}}]
    to: [{operation: {methods: ["GET", "POST"], paths: ["/api/v${i}/*", "/items/${i}"]}}]
    when: [{key: "request.headers[x-tenant]", values: ["tenant-${i}", "t*"]}]`);
  }
  return docs;
}

function snapshot(docs: string[]): Snapshot {
  const parsed = parseTexts([{ text: docs.join("\n---\n"), file: "bench.yaml" }], DEFAULT_MESH);
  if (parsed.issues.some((i) => i.severity === "error")) throw new Error("bench fixture is invalid");
  return Snapshot.of(parsed.resources);
}

interface Row {
  name: string;
  decisionsPerSecond: number;
  allowed: number;
}

function measure(name: string, snap: Snapshot, iterations: number): Row {
  const registry = Registry.of(snap);
  const world = defaultWorld();
  const sources: Source[] = [];
  for (let n = 0; n < NAMESPACES; n++) sources.push({ kind: "workload", workload: registry.instancesOf(`ns${n}/app`)[0]! });
  const requests: Request[] = [];
  for (let i = 0; i < 64; i++) {
    requests.push({ scheme: "http", host: "app.ns0", port: 80, method: i % 2 ? "GET" : "POST", path: `/api/v${i}/x`, headers: { host: "app.ns0", "x-tenant": `tenant-${i}` } });
  }
  // Warm up the JIT and the per-snapshot indexes before timing.
  for (let i = 0; i < 2000; i++) decide({ snapshot: snap, world }, sources[i % NAMESPACES]!, requests[i % 64]!);
  let allowed = 0;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    if (decide({ snapshot: snap, world }, sources[i % NAMESPACES]!, requests[i % 64]!).allow) allowed++;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { name, decisionsPerSecond: iterations / seconds, allowed };
}

export function runDecisionBench(iterations = 50_000): Row[] {
  const mesh = meshYaml();
  return [
    measure("no AuthorizationPolicy (baseline)", snapshot(mesh), iterations),
    measure("1,000 policies over 100 namespaces", snapshot([...mesh, ...policies(1000, true)]), iterations),
    measure("1,000 policies on the destination", snapshot([...mesh, ...policies(1000, false)]), Math.max(1000, Math.floor(iterations / 10))),
  ];
}
