// The boundary for text: YAML or JSON in, typed resources and precise issues out.
import { LineCounter, parseAllDocuments } from "yaml";
import { convertDocument, type Loaded } from "./convert.js";
import { Codes, type Issue, type Location } from "./errors.js";
import { mergeMeshConfig, type MeshConfig } from "./mesh.js";

export { findDuplicates, manifestOf, type Loaded } from "./convert.js";

/** Parses one file's text (multi-document YAML, or JSON) into typed resources. */
export function loadText(text: string, file: string, namespace?: string): Loaded {
  const out: Loaded = { resources: [], meshConfigs: [], issues: [] };
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const at: Location = { file, doc: i + 1 };
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const pos = lines.linePos(e.pos[0]);
        out.issues.push({ code: Codes.YAML, severity: "error", at, message: `YAML syntax error at line ${pos.line}, column ${pos.col}: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}` });
      }
      return;
    }
    convertDocument(doc.toJS({ maxAliasCount: 100 }) as unknown, at, out, loadMeshText, namespace);
  });
  return out;
}

function loadMeshText(text: string, at: Location, issues: Issue[]): unknown {
  const docs = parseAllDocuments(text);
  const doc = Array.isArray(docs) ? docs[0] : docs;
  if (!doc || doc.errors.length) {
    issues.push({ code: Codes.YAML, severity: "error", at, message: `meshConfig is not valid YAML: ${doc?.errors[0]?.message.split("\n")[0] ?? "empty"}` });
    return undefined;
  }
  return doc.toJS();
}

/** Reads a standalone meshConfig file (MeshConfig fields at the top level). */
export function loadMeshConfigText(text: string, file: string, base: MeshConfig): { mesh: MeshConfig; issues: Issue[] } {
  const issues: Issue[] = [];
  const at: Location = { file, doc: 1 };
  const raw = loadMeshText(text, at, issues);
  if (raw === undefined) return { mesh: base, issues };
  return { mesh: mergeMeshConfig(base, raw ?? {}, at, issues), issues };
}
