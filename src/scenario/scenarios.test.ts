// Every scenario file the project ships (examples/scenarios/, test/scenarios/) and,
// when present, ../shared/scenarios: each probe is one test case.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { findScenarioFiles } from "./discover.js";
import { parseScenarioFile } from "./parse.js";
import { formatResult } from "./report.js";
import { runStatic } from "./static-runner.js";
import { PROJECT_ROOT } from "../paths.js";

const dirs = [join(PROJECT_ROOT, "examples", "scenarios"), join(PROJECT_ROOT, "test", "scenarios"), join(PROJECT_ROOT, "..", "shared", "scenarios")].filter(existsSync);

for (const file of findScenarioFiles(dirs)) {
  test(`scenario --static: ${file.slice(PROJECT_ROOT.length + 1)}`, async (t) => {
    const results = await runStatic(parseScenarioFile(file));
    assert.ok(results.length > 0, "a scenario has at least one probe");
    for (const r of results) {
      await t.test(`${r.step} › ${r.probe}`, () => {
        assert.ok(r.pass, formatResult(r));
      });
    }
  });
}
