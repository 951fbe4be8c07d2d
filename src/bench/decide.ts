// Decision throughput of the pure engine on one core, with 1,000
// AuthorizationPolicies loaded, as a ratio to the same mesh with none.
import { median } from "./tools.js";
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
  /** The median over the rounds. */
  decisionsPerSecond: number;
  allowed: number;
}

interface Case {
  name: string;
  run: (count: number) => number;
}

/** One case: its sources and requests, and a loop of `count` decisions that returns how many were allowed. */
function caseOf(name: string, snap: Snapshot): Case {
  const registry = Registry.of(snap);
  const world = defaultWorld();
  const sources: Source[] = [];
  for (let n = 0; n < NAMESPACES; n++) sources.push({ kind: "workload", workload: registry.instancesOf(`ns${n}/app`)[0]! });
  const requests: Request[] = [];
  for (let i = 0; i < 64; i++) {
    requests.push({ scheme: "http", host: "app.ns0", port: 80, method: i % 2 ? "GET" : "POST", path: `/api/v${i}/x`, headers: { host: "app.ns0", "x-tenant": `tenant-${i}` } });
  }
  return {
    name,
    run: (count) => {
      let allowed = 0;
      for (let i = 0; i < count; i++) if (decide({ snapshot: snap, world }, sources[i % NAMESPACES]!, requests[i % 64]!).allow) allowed++;
      return allowed;
    },
  };
}

const ROUNDS = 5;

/**
 * Each case in turn, over several rounds (a machine's noise and the JIT's mood move one long run; the median of
 * interleaved rounds holds still). Every round gives each case the same number of decisions.
 */
export function runDecisionBench(iterations = 50_000): Row[] {
  const mesh = meshYaml();
  const cases = [
    caseOf("no AuthorizationPolicy (baseline)", snapshot(mesh)),
    caseOf("1,000 policies over 100 namespaces", snapshot([...mesh, ...policies(1000, true)])),
    caseOf("1,000 policies on the destination", snapshot([...mesh, ...policies(1000, false)])),
  ];
  // Warm up the JIT and the per-snapshot indexes before timing.
  for (const c of cases) c.run(2000);
  const rates = cases.map(() => [] as number[]);
  const allowed = cases.map(() => 0);
  const perRound = Math.max(1000, Math.floor(iterations / ROUNDS));
  for (let r = 0; r < ROUNDS; r++) {
    cases.forEach((c, i) => {
      const t0 = performance.now();
      allowed[i]! += c.run(perRound);
      rates[i]!.push(perRound / ((performance.now() - t0) / 1000));
    });
  }
  return cases.map((c, i) => ({ name: c.name, decisionsPerSecond: median(rates[i]!), allowed: allowed[i]! }));
}
