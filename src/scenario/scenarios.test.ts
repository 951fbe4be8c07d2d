// Every scenario file the project ships (examples/scenarios/, test/scenarios/)
// and, when present, ../shared/scenarios: each probe is one test case, decided
// statically and then sent through a live mesh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { findScenarioFiles } from "./discover.js";
import { parseScenarioFile } from "./parse.js";
import { formatResult, type ProbeResult } from "./report.js";
import { runLive } from "./live-runner.js";
import { runStatic } from "./static-runner.js";
import { PROJECT_ROOT } from "../paths.js";

const dirs = [join(PROJECT_ROOT, "examples", "scenarios"), join(PROJECT_ROOT, "test", "scenarios"), join(PROJECT_ROOT, "..", "shared", "scenarios")].filter(existsSync);

async function probes(t: import("node:test").TestContext, results: ProbeResult[]) {
  assert.ok(results.length > 0, "a scenario has at least one probe");
  for (const r of results) await t.test(`${r.step} › ${r.probe}`, () => assert.ok(r.pass, formatResult(r)));
}

for (const file of findScenarioFiles(dirs)) {
  const name = relative(PROJECT_ROOT, file);
  test(`scenario --static: ${name}`, async (t) => probes(t, await runStatic(parseScenarioFile(file))));
  test(`scenario live: ${name}`, async (t) => probes(t, await runLive(parseScenarioFile(file))));
}
