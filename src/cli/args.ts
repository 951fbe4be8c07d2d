import { parseArgs, type ParseArgsConfig } from "node:util";
import { Codes, ZmError } from "../api/errors.js";

/** `--help` (or `-h`) anywhere before `--`: the command's usage on stdout, exit 0, nothing else done. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super("help requested");
  }
}

export function parse<T extends ParseArgsConfig["options"]>(argv: string[], options: T, usage: string) {
  const end = argv.indexOf("--");
  const own = end < 0 ? argv : argv.slice(0, end);
  if (own.includes("--help") || own.includes("-h")) throw new HelpRequested(usage);
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ZmError(Codes.USAGE, `${(e as Error).message}\nusage: ${usage}`);
  }
}
