// Every scenario file the project ships (examples/scenarios/, test/scenarios/)
// and, when present, ../shared/scenarios: each probe is one test case, decided
// statically and then sent through a live mesh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import { DEFAULT_MESH } from "../api/mesh.js";
import { Snapshot } from "../store/snapshot.js";
import { findScenarioFiles } from "./discover.js";
import type { Scenario } from "./model.js";
import { parseScenarioFile } from "./parse.js";
import { formatResult, type ProbeResult } from "./report.js";
import { runLive } from "./live-runner.js";
import { runStatic } from "./static-runner.js";
import { PROJECT_ROOT } from "../paths.js";

const dirs = [join(PROJECT_ROOT, "examples", "scenarios"), join(PROJECT_ROOT, "test", "scenarios"), join(PROJECT_ROOT, "..", "shared", "scenarios")].filter(existsSync);

/** Scenarios whose probes enter through a gateway need the gateway proxy (issue 4) to run live. */
function needsGateway(s: Scenario): boolean {
  const texts = [...s.resources, ...s.steps.flatMap((st) => (st.apply ? [{ text: st.apply, label: st.name }] : []))];
  const parsed = parseTexts(texts.map((t) => ({ text: t.text, file: t.label })), DEFAULT_MESH);
  const reg = Registry.of(Snapshot.of(parsed.resources));
  const gateways = new Set(reg.services.filter((svc) => svc.ports.some((p) => reg.endpoints(svc, p).some((e) => e.workload.gateway))).map((svc) => `${svc.namespace}/${svc.name}`));
  return s.steps.some((st) => st.probes.some((p) => p.via !== undefined && gateways.has(`${p.via.namespace}/${p.via.service}`)));
}

async function probes(t: import("node:test").TestContext, results: ProbeResult[]) {
  assert.ok(results.length > 0, "a scenario has at least one probe");
  for (const r of results) await t.test(`${r.step} › ${r.probe}`, () => assert.ok(r.pass, formatResult(r)));
}

for (const file of findScenarioFiles(dirs)) {
  const name = relative(PROJECT_ROOT, file);
  test(`scenario --static: ${name}`, async (t) => probes(t, await runStatic(parseScenarioFile(file))));
  const scenario = parseScenarioFile(file);
  if (needsGateway(scenario)) test.todo(`scenario live: ${name} — its probes enter through a gateway, which runs live from issue 4`);
  else test(`scenario live: ${name}`, async (t) => probes(t, await runLive(scenario)));
}
