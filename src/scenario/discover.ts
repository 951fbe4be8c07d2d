import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Codes, ZmError } from "../api/errors.js";

/**
 * Scenario files under the given paths. In a directory, every .yaml file is a
 * scenario except those under a `common/` folder (include fragments).
 */
export function findScenarioFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string, top: boolean) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) {
        if (e.startsWith(".") || e === "common") continue;
        walk(join(p, e), false);
      }
    } else if (top || /\.ya?ml$/.test(p)) out.push(p);
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new ZmError(Codes.USAGE, `${p}: no such file or directory`);
    walk(p, true);
  }
  return out;
}
