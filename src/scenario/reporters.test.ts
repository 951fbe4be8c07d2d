import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonReport, junitReport } from "./reporters.js";
import type { ProbeResult } from "./report.js";

const results: ProbeResult[] = [
  { file: "a.yaml", step: "s1", probe: "allowed", pass: true },
  { file: "a.yaml", step: "s1", probe: "denied <as> \"expected\"", pass: false, expected: "HTTP 403", seen: "got HTTP 200 & more", trail: [{ stage: "authz", at: "sidecar x/y", message: "allowed" }] },
];

test("reporters: JUnit XML has a suite per file, a case per probe, failures with the trail, invalid files as errors, all escaped", () => {
  const x = junitReport(results, [{ file: "b.yaml", message: "b.yaml#1 spec: <bad>" }]);
  assert.match(x, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="zeromesh scenarios" tests="3" failures="1" errors="1">/);
  assert.match(x, /<testsuite name="a.yaml" tests="2" failures="1" errors="0">/);
  assert.match(x, /<testcase classname="a.yaml" name="s1 › allowed"\/>/);
  assert.match(x, /name="s1 › denied &lt;as&gt; &quot;expected&quot;"><failure message="expected HTTP 403; got HTTP 200 &amp; more">decision trail \(engine\):\n  \[authz\] sidecar x\/y: allowed<\/failure>/);
  assert.match(x, /<testsuite name="b.yaml" tests="1" failures="0" errors="1">\n    <testcase classname="b.yaml" name="the file is valid"><error message="invalid scenario file">b.yaml#1 spec: &lt;bad&gt;<\/error>/);
  assert.doesNotMatch(x.replace(/&(lt|gt|amp|quot|apos);/g, ""), /&/);
});

test("reporters: JSON carries counts, invalid files and every result", () => {
  const j = JSON.parse(jsonReport(results, []));
  assert.deepEqual([j.passed, j.failed, j.invalid, j.results.length], [1, 1, 0, 2]);
});
