import { test } from "node:test";
import assert from "node:assert/strict";
import type { Issue } from "./errors.js";
import { DEFAULT_MESH, mergeMeshConfig } from "./mesh.js";

test("meshConfig: defaultConfig.gatewayTopology.numTrustedProxies is a non-negative integer, as Istio validates it", () => {
  const merge = (gatewayTopology: unknown) => {
    const issues: Issue[] = [];
    const mesh = mergeMeshConfig(DEFAULT_MESH, { defaultConfig: { gatewayTopology } }, { file: "mesh.yaml", doc: 1 }, issues);
    return { n: mesh.defaultConfig.gatewayTopology?.numTrustedProxies, errors: issues.filter((i) => i.severity === "error").map((i) => i.message) };
  };
  assert.deepEqual(merge({ numTrustedProxies: 2 }), { n: 2, errors: [] });
  assert.deepEqual(merge({ numTrustedProxies: 0 }), { n: 0, errors: [] });
  for (const bad of [-1, 1.5, "two"]) {
    const r = merge({ numTrustedProxies: bad });
    assert.equal(r.n, undefined, String(bad));
    assert.equal(r.errors.length, 1, String(bad));
  }
  assert.equal(DEFAULT_MESH.defaultConfig.gatewayTopology, undefined, "unset: no proxy in front is trusted");
});
