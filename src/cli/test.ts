import { ZmError } from "../api/errors.js";
import { findScenarioFiles } from "../scenario/discover.js";
import { parseScenarioFile } from "../scenario/parse.js";
import { formatResult, summaryLine, type ProbeResult } from "../scenario/report.js";
import { runLive, type LiveMode } from "../scenario/live-runner.js";
import { podsUnavailable } from "../node/available.js";
import { runStatic } from "../scenario/static-runner.js";
import { jsonReport, junitReport, type InvalidFile } from "../scenario/reporters.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh test [--static | --loopback | --pods] [--verbose] [--reporter text|junit|json] FILE|DIR...";

export async function testCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { static: { type: "boolean" }, verbose: { type: "boolean", short: "v" }, loopback: { type: "boolean" }, pods: { type: "boolean" }, reporter: { type: "string" } }, USAGE);
  if (!positionals.length || [values.static, values.loopback, values.pods].filter(Boolean).length > 1) return io.usage(USAGE);
  const reporter = values.reporter ?? "text";
  if (reporter !== "text" && reporter !== "junit" && reporter !== "json") return io.usage(USAGE);
  // With a machine reporter, standard output is that document alone; progress goes to standard error.
  const line = reporter === "text" ? (l: string) => io.out(l) : (l: string) => io.err(l);
  // Live scenarios run in pods when this process may make them (as `up` does), else on loopback, said loudly.
  const unavailable = values.static || values.loopback ? undefined : podsUnavailable();
  if (values.pods && unavailable) {
    io.err(`zeromesh: pods are unavailable here: ${unavailable}`);
    return 1;
  }
  const mode: LiveMode = values.loopback || unavailable ? "loopback" : "pods";
  if (!values.static && unavailable) io.err(`zeromesh: running scenarios in LOOPBACK mode (workloads are not isolated; "from: node" probes with a target fail): ${unavailable}`);
  const results: ProbeResult[] = [];
  const invalidFiles: InvalidFile[] = [];
  for (const file of findScenarioFiles(positionals)) {
    let scenario;
    try {
      scenario = parseScenarioFile(file);
    } catch (e) {
      if (!(e instanceof ZmError)) throw e;
      invalidFiles.push({ file, message: e.message });
      line(`INVALID ${file}\n${e.message.replace(/^/gm, "    ")}`);
      continue;
    }
    // A live file takes seconds to bring its mesh up: say what is happening (stderr, so reports stay clean).
    const started = Date.now();
    if (!values.static) io.err(`zeromesh: ${file}: bringing up its mesh (${mode}): control plane, ${scenario.steps.length} step${scenario.steps.length === 1 ? "" : "s"}…`);
    const fileResults = await (values.static ? runStatic(scenario) : runLive(scenario, mode, (l) => io.err(`zeromesh: ${file}: ${l}`)));
    if (!values.static) io.err(`zeromesh: ${file}: ${fileResults.length} probes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const r of fileResults) {
      results.push(r);
      line(formatResult(r, values.verbose));
    }
  }
  const invalid = invalidFiles.length;
  if (invalid) line(`${invalid} scenario file${invalid === 1 ? " is" : "s are"} invalid`);
  line(summaryLine(results));
  if (reporter === "junit") io.out(junitReport(results, invalidFiles));
  if (reporter === "json") io.out(jsonReport(results, invalidFiles));
  return results.some((r) => !r.pass) || invalid ? 1 : 0;
}
