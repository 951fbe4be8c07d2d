import { parseArgs, type ParseArgsConfig } from "node:util";
import { Codes, ZmError } from "../api/errors.js";

export function parse<T extends ParseArgsConfig["options"]>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ZmError(Codes.USAGE, `${(e as Error).message}\nusage: ${usage}`);
  }
}
