// Istio's own analyzer test table (pkg/config/analysis/analyzers/analyzers_test.go and its testdata), ported by
// test/istio-analyzers/port.py: each case runs its analyzer on its files, and the messages (code and object) must
// be Istio's exactly, as a multiset. Cases zeromesh cannot agree with are listed in KNOWN with the reason, and the
// analyzers it does not run in NOT_PORTED, so that both lists can only shrink.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { analyze, ANALYZERS } from "./index.js";
import { readObjects } from "./objects.js";

interface Case {
  name: string;
  source: string;
  analyzerName: string;
  inputFiles: { path: string; text: string }[];
  meshConfigFile: string | null;
  expected: { code: string; resource: string }[];
  needs: "yaml" | "workloads" | "live";
  notes: string[];
}

const DIR = join(process.cwd(), "test", "istio-analyzers");
const cases = JSON.parse(readFileSync(join(DIR, "cases.json"), "utf8")) as Case[];
const harness = JSON.parse(readFileSync(join(DIR, "harness.json"), "utf8")) as { defaultIngressGateway: { yaml: string } };
const running = new Set(ANALYZERS.map((a) => a.name));

/** The messages of one case, as "CODE Kind ns/name", sorted. */
export function run(c: Case): string[] {
  const mesh = c.meshConfigFile ? (parse(c.meshConfigFile) as Record<string, unknown>) ?? {} : {};
  const files = c.inputFiles.map((f) => ({ file: f.path, text: f.text }));
  // As Istio's harness: a dummy ingress gateway pod and Service, unless the mesh has no ingress controller.
  if (mesh.ingressControllerMode !== "OFF") files.push({ file: "harness/ingressgateway.yaml", text: harness.defaultIngressGateway.yaml });
  const { objects } = readObjects(files, "");
  return analyze(objects, mesh, [c.analyzerName]).map((m) => `${m.code} ${m.origin}`).sort();
}

/**
 * Cases zeromesh cannot agree with, for a good reason (case source → reason). They still run, but are left out of
 * the comparison; one that starts agreeing fails the test, so that this list only shrinks.
 */
const KNOWN: Record<string, string> = {};

/**
 * Istio's analyzers (those its test table exercises) that zeromesh does not run, and why. Also not ported: schema
 * validation of Istio kinds other than VirtualService's unreachable/shadowed routes (Istio's table has no case for it).
 */
const NOT_PORTED: Record<string, string> = {
  "annotations.AlphaAnalyzer": "not in Istio's All(): istioctl only runs it on request",
  "authn.BlockedCIDRsAnalyzer": "live: reads the istiod Deployment's environment",
  "conditions.ConditionAnalyzer": "live: reads status conditions written by controllers",
  "externalcontrolplane.ExternalControlPlaneAnalyzer": "live: reads Istio's webhook configurations",
  "injection.Analyzer": "live: reads namespaces' injection state, running pods and the injector ConfigMap",
  "injection.ImageAnalyzer": "live: compares running proxies' images with the injector ConfigMap",
  "injection.ImageAutoAnalyzer": "live: needs the injection webhooks",
  "k8sgateway.CRDVersionAnalyzer": "live: reads installed Gateway API CRDs",
  "meshnetworks.MeshNetworksAnalyzer": "live: needs meshNetworks and remote-cluster Secrets",
  "services.MultiClusterServiceAnalyzer": "live: needs Services from several clusters",
  "webhook.Analyzer": "live: reads the injection webhooks and the Services they call",
};

test("analyze: Istio's analyzer test cases give Istio's messages", (t) => {
  const disagree: string[] = [];
  const nowAgree: string[] = [];
  const known: string[] = [];
  let ran = 0;
  let agreed = 0;
  for (const c of cases) {
    if (!running.has(c.analyzerName)) continue;
    ran++;
    const want = c.expected.map((e) => `${e.code} ${e.resource}`).sort();
    const got = run(c);
    const same = JSON.stringify(got) === JSON.stringify(want);
    if (same) agreed++;
    if (c.source in KNOWN) {
      if (same) nowAgree.push(`${c.name} (${c.source}): agrees now; remove it from KNOWN`);
      else known.push(`${c.name} (${c.source}, ${c.analyzerName}): ${KNOWN[c.source]}`);
    } else if (!same) disagree.push(`${c.name} (${c.source}, ${c.analyzerName}):\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`);
  }
  const summary = `${ran} cases ran, ${agreed} agreed, ${known.length} known to differ${known.length ? `:\n  ${known.join("\n  ")}` : ""}`;
  t.diagnostic(summary);
  assert.ok(ran > 0, summary);
  assert.deepEqual([...disagree, ...nowAgree], [], `${summary}\n${[...disagree, ...nowAgree].join("\n")}`);
  const stale = Object.keys(KNOWN).filter((s) => !cases.some((c) => c.source === s && running.has(c.analyzerName)));
  assert.deepEqual(stale, [], `${summary}\nKNOWN names cases that do not run`);
});

test("analyze: the Istio analyzers zeromesh does not run are the ones listed", () => {
  const istio = new Set(cases.map((c) => c.analyzerName));
  const missing = [...istio].filter((n) => !running.has(n)).sort();
  assert.deepEqual(missing, Object.keys(NOT_PORTED).sort());
  // And every analyzer zeromesh runs is one of Istio's.
  assert.deepEqual([...running].filter((n) => !istio.has(n)), []);
});
