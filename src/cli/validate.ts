import { errorsOf, formatIssue } from "../api/errors.js";
import { DEFAULT_MESH } from "../api/mesh.js";
import { parseFiles } from "../store/apply.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh validate -f PATH... [-n NAMESPACE]";

export function validateCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse(argv, { filename: { type: "string", short: "f", multiple: true }, namespace: { type: "string", short: "n" } }, USAGE);
  const paths = [...(values.filename ?? []), ...positionals];
  if (!paths.length) return io.usage(USAGE);
  const parsed = parseFiles(paths, DEFAULT_MESH, process.cwd(), values.namespace);
  for (const i of parsed.issues) io.err(formatIssue(i));
  const errors = errorsOf(parsed.issues).length;
  if (errors) {
    io.err(`${errors} error${errors === 1 ? "" : "s"}; nothing would be applied`);
    return 1;
  }
  io.out(`valid: ${parsed.resources.length} resource${parsed.resources.length === 1 ? "" : "s"}${parsed.mesh ? " and meshConfig" : ""}`);
  return 0;
}
