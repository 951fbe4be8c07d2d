import { ZmError } from "../api/errors.js";
import { findScenarioFiles } from "../scenario/discover.js";
import { parseScenarioFile } from "../scenario/parse.js";
import { formatResult, summaryLine, type ProbeResult } from "../scenario/report.js";
import { runLive } from "../scenario/live-runner.js";
import { runStatic } from "../scenario/static-runner.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh test [--static] [--verbose] FILE|DIR...";

export async function testCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { static: { type: "boolean" }, verbose: { type: "boolean", short: "v" } }, USAGE);
  if (!positionals.length) return io.usage(USAGE);
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
    for (const r of await (values.static ? runStatic(scenario) : runLive(scenario))) {
      results.push(r);
      io.out(formatResult(r, values.verbose));
    }
  }
  if (invalid) io.out(`${invalid} scenario file${invalid === 1 ? " is" : "s are"} invalid`);
  io.out(summaryLine(results));
  return results.some((r) => !r.pass) || invalid ? 1 : 0;
}
