import { test } from "node:test";
import assert from "node:assert/strict";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import { Registry } from "../registry/registry.js";
import { plaintextRefused } from "./engine.js";
import { PolicyIndex } from "./index.js";
import { effectiveMtls } from "./peer-authn.js";

const APPS = meshYaml([{ ns: "b", name: "web", port: 8080 }, { ns: "b", name: "plain", port: 8080, inject: false }]);
const pa = (ns: string, name: string, spec: string) => `\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}`;

test("plaintextRefused: STRICT as decideInbound resolves it (port › workload › namespace › mesh), only where a sidecar terminates", () => {
  const table: [string, string, number, boolean][] = [
    ["no PeerAuthentication (PERMISSIVE)", "", 8080, false],
    ["mesh-wide STRICT", pa("istio-system", "m", "{mtls: {mode: STRICT}}"), 8080, true],
    ["namespace PERMISSIVE over mesh STRICT", pa("istio-system", "m", "{mtls: {mode: STRICT}}") + pa("b", "n", "{mtls: {mode: PERMISSIVE}}"), 8080, false],
    ["namespace STRICT", pa("b", "n", "{mtls: {mode: STRICT}}"), 8080, true],
    ["workload port DISABLE under namespace STRICT", pa("b", "n", "{mtls: {mode: STRICT}}") + pa("b", "w", "{selector: {matchLabels: {app: web}}, portLevelMtls: {8080: {mode: DISABLE}}}"), 8080, false],
    ["workload port STRICT, another port", pa("b", "w", "{selector: {matchLabels: {app: web}}, portLevelMtls: {9090: {mode: STRICT}}}"), 8080, false],
  ];
  for (const [name, extra, port, want] of table) {
    const snap = snapshotOf(APPS + extra);
    const reg = Registry.of(snap);
    assert.equal(plaintextRefused(snap, reg.workload("b/web")!, port), want, name);
    assert.equal(plaintextRefused(snap, reg.workload("b/plain")!, port), false, `${name}: no sidecar`);
  }
});

test("effectiveMtls: each level, which resource decided, and selectors that count as none (Istio's PeerAuthentication scopes)", () => {
  const apps = APPS + "\n---\n" + meshYaml([{ ns: "istio-system", name: "gw" }]).split("\n---\n").slice(1).join("\n---\n");
  const table: [string, string, string, number, string, string[]][] = [
    ["nothing: PERMISSIVE", "", "b/web", 8080, "PERMISSIVE", []],
    ["mesh-wide (root namespace, no selector)", pa("istio-system", "m", "{mtls: {mode: STRICT}}"), "b/web", 8080, "STRICT", ["PeerAuthentication/istio-system/m"]],
    ["an empty selector is no selector (mesh-wide)", pa("istio-system", "m", "{selector: {matchLabels: {}}, mtls: {mode: STRICT}}"), "b/web", 8080, "STRICT", ["PeerAuthentication/istio-system/m"]],
    ["a selector in the root namespace selects only there", pa("istio-system", "m", "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}}"), "b/web", 8080, "PERMISSIVE", []],
    ["a root-namespace workload: the mesh-wide one is its namespace's", pa("istio-system", "m", "{mtls: {mode: STRICT}}"), "istio-system/gw", 80, "STRICT", ["PeerAuthentication/istio-system/m"]],
    ["namespace over mesh", pa("istio-system", "m", "{mtls: {mode: STRICT}}") + pa("b", "n", "{mtls: {mode: DISABLE}}"), "b/web", 8080, "DISABLE", ["PeerAuthentication/b/n"]],
    ["an empty selector in a namespace is namespace-wide", pa("b", "n", "{selector: {matchLabels: {}}, mtls: {mode: STRICT}}"), "b/web", 8080, "STRICT", ["PeerAuthentication/b/n"]],
    ["workload over namespace", pa("b", "n", "{mtls: {mode: STRICT}}") + pa("b", "w", "{selector: {matchLabels: {app: web}}, mtls: {mode: PERMISSIVE}}"), "b/web", 8080, "PERMISSIVE", ["PeerAuthentication/b/w"]],
    ["a workload policy for others leaves the namespace's", pa("b", "n", "{mtls: {mode: STRICT}}") + pa("b", "w", "{selector: {matchLabels: {app: other}}, mtls: {mode: DISABLE}}"), "b/web", 8080, "STRICT", ["PeerAuthentication/b/n"]],
    ["UNSET defers to the level above", pa("b", "n", "{mtls: {mode: STRICT}}") + pa("b", "w", "{selector: {matchLabels: {app: web}}, mtls: {mode: UNSET}}"), "b/web", 8080, "STRICT", ["PeerAuthentication/b/n"]],
    ["port over workload", pa("b", "w", "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: DISABLE}}}"), "b/web", 8080, "DISABLE", ["PeerAuthentication/b/w"]],
    ["another port keeps the workload's", pa("b", "w", "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}, portLevelMtls: {9090: {mode: DISABLE}}}"), "b/web", 8080, "STRICT", ["PeerAuthentication/b/w"]],
  ];
  for (const [name, extra, workload, port, mode, from] of table) {
    const snap = snapshotOf(apps + extra);
    const v = effectiveMtls(PolicyIndex.of(snap), Registry.of(snap).workload(workload)!, port);
    assert.deepEqual([v.mode, v.from], [mode, from], name);
    if (name.startsWith("port over")) assert.match(v.explanation, /port-level .*\(portLevelMtls 8080\)/);
    if (from.length && !name.startsWith("port over")) assert.doesNotMatch(v.explanation, /portLevelMtls/);
  }
});
