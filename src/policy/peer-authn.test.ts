import { test } from "node:test";
import assert from "node:assert/strict";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import { Registry } from "../registry/registry.js";
import { plaintextRefused } from "./engine.js";

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
