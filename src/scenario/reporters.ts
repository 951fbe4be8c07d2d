// Scenario results for CI: JUnit XML (what CI systems read) and JSON. The
// default text report (one line per probe, then "N passed, N failed") is
// report.ts's.
import { formatTrail, type ProbeResult } from "./report.js";

export interface InvalidFile {
  file: string;
  message: string;
}

const xml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!)
  // Characters XML 1.0 cannot carry at all.
  // eslint-disable-next-line no-control-regex
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "\uFFFD");

/** One <testsuite> per scenario file, one <testcase> per probe; an invalid file is a suite with one error. */
export function junitReport(results: readonly ProbeResult[], invalid: readonly InvalidFile[]): string {
  const files = [...new Set([...results.map((r) => r.file), ...invalid.map((i) => i.file)])];
  const suites = files.map((file) => {
    const bad = invalid.find((i) => i.file === file);
    if (bad) {
      return `  <testsuite name="${xml(file)}" tests="1" failures="0" errors="1">\n    <testcase classname="${xml(file)}" name="the file is valid"><error message="invalid scenario file">${xml(bad.message)}</error></testcase>\n  </testsuite>`;
    }
    const mine = results.filter((r) => r.file === file);
    const cases = mine.map((r) => {
      const name = `${xml(r.step)} › ${xml(r.probe)}`;
      if (r.pass) return `    <testcase classname="${xml(file)}" name="${name}"/>`;
      const detail = [r.note, r.trail?.length ? `decision trail (engine):\n${formatTrail(r.trail, "  ")}` : "", r.logs?.length ? `proxies' access log:\n${r.logs.join("\n")}` : ""].filter(Boolean).join("\n");
      return `    <testcase classname="${xml(file)}" name="${name}"><failure message="${xml(`expected ${r.expected}; ${r.seen}`)}">${xml(detail)}</failure></testcase>`;
    });
    return `  <testsuite name="${xml(file)}" tests="${mine.length}" failures="${mine.filter((r) => !r.pass).length}" errors="0">\n${cases.join("\n")}\n  </testsuite>`;
  });
  const failures = results.filter((r) => !r.pass).length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="zeromesh scenarios" tests="${results.length + invalid.length}" failures="${failures}" errors="${invalid.length}">\n${suites.join("\n")}\n</testsuites>`;
}

/** Everything the text report says, as one JSON document. */
export function jsonReport(results: readonly ProbeResult[], invalid: readonly InvalidFile[]): string {
  const passed = results.filter((r) => r.pass).length;
  return JSON.stringify({ passed, failed: results.length - passed, invalid: invalid.length, invalidFiles: invalid, results }, null, 2);
}
