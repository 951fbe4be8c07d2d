// Turns user input (files, text) into one validated ChangeSet, or issues.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { Codes, ZmError, errorsOf, formatIssue, type Issue } from "../api/errors.js";
import { findDuplicates, loadText } from "../api/load.js";
import { mergeMeshConfig, type MeshConfig } from "../api/mesh.js";
import type { Resource } from "../api/types.js";

export interface Parsed {
  resources: Resource[];
  mesh?: MeshConfig;
  issues: Issue[];
}

/** Parses several texts as one apply: duplicates across them are errors too. */
/** `namespace`: where objects without one land (`-n`), instead of "default". */
export function parseTexts(inputs: { text: string; file: string }[], baseMesh: MeshConfig, namespace?: string): Parsed {
  const resources: Resource[] = [];
  const issues: Issue[] = [];
  let mesh: MeshConfig | undefined;
  for (const { text, file } of inputs) {
    const loaded = loadText(text, file, namespace);
    resources.push(...loaded.resources);
    issues.push(...loaded.issues);
    for (const m of loaded.meshConfigs) mesh = mergeMeshConfig(mesh ?? baseMesh, m.raw, m.at, issues);
  }
  issues.push(...findDuplicates(resources));
  return { resources, mesh, issues };
}

/** Every .yaml/.yml/.json file under the paths, in a stable order. */
export function listConfigFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new ZmError(Codes.IO, `${p}: no such file or directory`);
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) if (!e.startsWith(".")) walk(join(p, e));
    } else if (/\.(ya?ml|json)$/.test(p) || paths.includes(p)) out.push(p);
  };
  paths.forEach(walk);
  return out;
}

export function parseFiles(paths: string[], baseMesh: MeshConfig, cwd = process.cwd(), namespace?: string): Parsed {
  const files = listConfigFiles(paths);
  return parseTexts(files.map((f) => ({ file: relative(cwd, f) || f, text: readFileSync(f, "utf8") })), baseMesh, namespace);
}

/** Throws one ZmError listing every error, so the caller can print them and change nothing. */
export function requireValid(parsed: Parsed): Parsed {
  const errs = errorsOf(parsed.issues);
  if (errs.length) throw new ZmError(errs[0]!.code, errs.map(formatIssue).join("\n"), errs);
  return parsed;
}
