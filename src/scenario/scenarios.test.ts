// Every scenario file the project ships (examples/scenarios/, test/scenarios/) and, when present,
// ../shared/scenarios: each probe is one test case, decided statically and then sent through a live mesh — in pods
// when this machine can make them (root: CI), and on loopback always.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { findScenarioFiles } from "./discover.js";
import { parseScenarioFile } from "./parse.js";
import { formatResult, type ProbeResult } from "./report.js";
import { LOOPBACK_NODE_TARGET, runLive, type LiveMode } from "./live-runner.js";
import { runStatic } from "./static-runner.js";
import type { Scenario } from "./model.js";
import { podsUnavailable } from "../testing/pods.js";
import { PROJECT_ROOT } from "../paths.js";

const dirs = [join(PROJECT_ROOT, "examples", "scenarios"), join(PROJECT_ROOT, "test", "scenarios"), join(PROJECT_ROOT, "..", "shared", "scenarios")].filter(existsSync);
const noPods = podsUnavailable();

/** Probes from the node straight to a workload: loopback mode cannot isolate workloads, and must say so rather than pass. */
const nodeTargeted = (s: Scenario) => new Set(s.steps.flatMap((st) => st.probes.filter((p) => p.from === "node" && p.target).map((p) => `${st.name} › ${p.name}`)));

async function probes(t: import("node:test").TestContext, results: ProbeResult[], mustFail = new Set<string>()) {
  assert.ok(results.length > 0, "a scenario has at least one probe");
  for (const r of results) {
    const name = `${r.step} › ${r.probe}`;
    if (mustFail.has(name)) await t.test(`${name} (fails in loopback mode, saying why)`, () => assert.deepEqual([r.pass, r.seen], [false, LOOPBACK_NODE_TARGET]));
    else await t.test(name, () => assert.ok(r.pass, formatResult(r)));
  }
}

for (const file of findScenarioFiles(dirs)) {
  const name = relative(PROJECT_ROOT, file);
  test(`scenario --static: ${name}`, async (t) => probes(t, await runStatic(parseScenarioFile(file))));
  for (const mode of ["loopback", "pods"] as LiveMode[]) {
    test(`scenario live (${mode}): ${name}`, { skip: mode === "pods" ? noPods : undefined }, async (t) => {
      const s = parseScenarioFile(file);
      await probes(t, await runLive(s, mode), mode === "loopback" ? nodeTargeted(s) : undefined);
    });
  }
}
