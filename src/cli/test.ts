import { ZmError } from "../api/errors.js";
import { findScenarioFiles } from "../scenario/discover.js";
import { parseScenarioFile } from "../scenario/parse.js";
import { formatResult, summaryLine, type ProbeResult } from "../scenario/report.js";
import { runLive, type LiveMode } from "../scenario/live-runner.js";
import { podsUnavailable } from "../node/available.js";
import { runStatic } from "../scenario/static-runner.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh test [--static | --loopback | --pods] [--verbose] FILE|DIR...";

export async function testCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { static: { type: "boolean" }, verbose: { type: "boolean", short: "v" }, loopback: { type: "boolean" }, pods: { type: "boolean" } }, USAGE);
  if (!positionals.length || [values.static, values.loopback, values.pods].filter(Boolean).length > 1) return io.usage(USAGE);
  // Live scenarios run in pods when this process may make them (as `up` does), else on loopback, said loudly.
  const unavailable = values.static || values.loopback ? undefined : podsUnavailable();
  if (values.pods && unavailable) {
    io.err(`zeromesh: pods are unavailable here: ${unavailable}`);
    return 1;
  }
  const mode: LiveMode = values.loopback || unavailable ? "loopback" : "pods";
  if (!values.static && unavailable) io.err(`zeromesh: running scenarios in LOOPBACK mode (workloads are not isolated; "from: node" probes with a target fail): ${unavailable}`);
  const results: ProbeResult[] = [];
  let invalid = 0;
  for (const file of findScenarioFiles(positionals)) {
    let scenario;
    try {
      scenario = parseScenarioFile(file);
    } catch (e) {
      if (!(e instanceof ZmError)) throw e;
      invalid++;
      io.out(`INVALID ${file}\n${e.message.replace(/^/gm, "    ")}`);
      continue;
    }
    for (const r of await (values.static ? runStatic(scenario) : runLive(scenario, mode))) {
      results.push(r);
      io.out(formatResult(r, values.verbose));
    }
  }
  if (invalid) io.out(`${invalid} scenario file${invalid === 1 ? " is" : "s are"} invalid`);
  io.out(summaryLine(results));
  return results.some((r) => !r.pass) || invalid ? 1 : 0;
}
