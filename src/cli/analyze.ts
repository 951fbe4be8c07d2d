// zeromesh analyze: Istio's analyzers on files (every namespace in them, as `istioctl analyze -A`; the Kubernetes
// objects among them count as the cluster's state) or on the running control plane's configuration. istioctl's
// output and exit codes: one line per message, `-o json|yaml`, 79 when a message reaches the failure threshold.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { LineCounter, parseAllDocuments, parse as yamlParse, stringify } from "yaml";
import { Codes, ZmError } from "../api/errors.js";
import { loadText } from "../api/load.js";
import { analyze, ANALYZERS, byImportance, type Message } from "../analysis/index.js";
import { MESSAGES } from "../analysis/messages.js";
import { goFormat } from "../analysis/context.js";
import { objectOf, readObjects, withControllerPods, type AnalysisObject } from "../analysis/objects.js";
import { adminCall, adminClient } from "./admin.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh analyze [-f] PATH... [-n NS | -A] [--mesh-config FILE] [-o log|json|yaml] [--failure-threshold Error|Warning|Info] [--output-threshold Info|Warning|Error] [--list-analyzers] [--admin HOST:PORT]";
/** istioctl's exit code when analyzers found issues at or above the failure threshold (sysexits' custom range). */
export const EXIT_FOUND_ISSUES = 79;
const LEVELS = ["Error", "Warning", "Info"] as const;
type Level = (typeof LEVELS)[number];
const DOCS = "https://istio.io/latest/docs/reference/config/analysis";
const EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

function level(flag: string, v: string | undefined, fallback: Level): Level {
  if (v === undefined) return fallback;
  const l = LEVELS.find((x) => x.toLowerCase() === v.toLowerCase());
  if (!l) throw new ZmError(Codes.USAGE, `--${flag} must be one of ${LEVELS.join(", ")}`);
  return l;
}

/** Files named, and the YAML/JSON files under folders named. */
function filesOf(paths: string[]): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (p: string, named: boolean) => {
    if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e), false);
    else if (named || EXTENSIONS.has(extname(p))) out.push({ file: p, text: readFileSync(p, "utf8") });
  };
  for (const p of paths) walk(p, true);
  return out;
}

/** meshConfig from a file (MeshConfig fields at the top level), else from an `istio` ConfigMap among the objects (as a cluster keeps it). */
function meshOf(objects: AnalysisObject[], file?: string): Record<string, any> {
  const read = (text: string, where: string): Record<string, any> => {
    let v: unknown;
    try {
      v = yamlParse(text);
    } catch (e) {
      throw new ZmError(Codes.INVALID, `${where}: meshConfig is not valid YAML (${(e as Error).message.split("\n")[0]})`);
    }
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, any>) : {};
  };
  if (file) return read(readFileSync(file, "utf8"), file);
  const cm = objects.find((o) => o.kind === "ConfigMap" && o.name === "istio" && o.namespace === "istio-system");
  const data = cm?.raw.data as Record<string, unknown> | undefined;
  return typeof data?.mesh === "string" ? read(data.mesh, "ConfigMap istio-system/istio") : {};
}

/** Schema errors as Istio's SchemaValidationError (IST0106), from zeromesh's validation (Istio's webhook's rules). */
function schemaMessages(files: { file: string; text: string }[], namespace: string | undefined): Message[] {
  const t = MESSAGES.SchemaValidationError;
  return files.flatMap((f) => {
    // Each document's first line, for "file:line" as the analyzers' messages give it.
    const lines = new LineCounter();
    const starts = parseAllDocuments(f.text, { lineCounter: lines }).map((d) => lines.linePos(d.contents?.range?.[0] ?? 0).line);
    return loadText(f.text, f.file, namespace).issues.filter((i) => i.severity !== "warning").map((i) => ({
      type: "SchemaValidationError" as const, code: t.code, level: t.level, analyzer: "schema.ValidationAnalyzer",
      origin: i.at.kind && i.at.name ? `${i.at.kind} ${i.at.namespace ? `${i.at.namespace}/` : ""}${i.at.name}` : undefined,
      reference: `${f.file}:${starts[i.at.doc - 1] ?? 1}`, message: goFormat(t.template, [`${i.at.path ? `${i.at.path}: ` : ""}${i.message}`]),
    }));
  });
}

export function formatMessage(m: Message): string {
  return `${m.level} [${m.code}]${m.origin ? ` (${m.origin}${m.reference ? ` ${m.reference}` : ""})` : ""} ${m.message}`;
}

export async function analyzeCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    filename: { type: "string", short: "f", multiple: true }, namespace: { type: "string", short: "n" }, "all-namespaces": { type: "boolean", short: "A" },
    "mesh-config": { type: "string" }, output: { type: "string", short: "o" }, "failure-threshold": { type: "string" }, "output-threshold": { type: "string" },
    "list-analyzers": { type: "boolean", short: "L" }, admin: { type: "string" },
  }, USAGE);
  if (values["list-analyzers"]) {
    io.out(ANALYZERS.map((a) => `* ${a.name}:\n    ${a.description}`).join("\n"));
    return 0;
  }
  const output = values.output ?? "log";
  if (!["log", "json", "yaml"].includes(output)) return io.usage(`-o must be log, json or yaml\n${USAGE}`);
  const failAt = level("failure-threshold", values["failure-threshold"], "Error");
  const showFrom = level("output-threshold", values["output-threshold"], "Info");
  const paths = [...(values.filename ?? []), ...positionals];

  let objects: AnalysisObject[];
  let mesh: Record<string, any>;
  let target: string;
  const extra: Message[] = [];
  let parseErrors = 0;
  if (paths.length) {
    // Files are analysed across all their namespaces; objects that name none land in -n's (default "default").
    const files = filesOf(paths);
    const read = readObjects(files, values.namespace ?? "default");
    for (const e of read.errors) io.err(`Error(s) parsing ${e}`);
    parseErrors = read.errors.length;
    objects = read.objects;
    mesh = meshOf(objects, values["mesh-config"]);
    extra.push(...schemaMessages(files, values.namespace));
    target = files.length === 1 ? files[0]!.file : `${files.length} files`;
  } else {
    const r = await adminCall<{ items: unknown[]; mesh?: Record<string, any> }>(adminClient(values.admin), "GET", "/v1/resources");
    objects = r.items.map((i) => objectOf(i, "default", "zeromesh control plane")).filter((o): o is AnalysisObject => o !== undefined);
    mesh = r.mesh ?? {};
    target = values["all-namespaces"] ? "all namespaces" : `namespace: ${values.namespace ?? "default"}`;
  }
  // The Pods zeromesh would run for the Deployments (and other controllers) count as running.
  let messages = [...extra, ...analyze(withControllerPods(objects), mesh)].sort(byImportance);
  // On the control plane, one namespace unless -A (as istioctl on a cluster); files: every namespace in them.
  if (!paths.length && !values["all-namespaces"]) {
    const ns = values.namespace ?? "default";
    const namespaceOf = (origin: string) => {
      const name = origin.slice(origin.indexOf(" ") + 1);
      return name.includes("/") ? name.slice(0, name.indexOf("/")) : undefined;
    };
    messages = messages.filter((m) => {
      const n = m.origin ? namespaceOf(m.origin) : undefined;
      return n === undefined || n === ns;
    });
  }
  const shown = messages.filter((m) => LEVELS.indexOf(m.level) <= LEVELS.indexOf(showFrom));
  const data = shown.map((m) => ({ code: m.code, level: m.level, ...(m.origin ? { origin: m.origin } : {}), ...(m.reference ? { reference: m.reference } : {}), message: m.message, documentationUrl: `${DOCS}/${m.code.toLowerCase()}/` }));
  if (output === "json") io.out(JSON.stringify(data, null, 2));
  else if (output === "yaml") io.out(stringify(data).trimEnd());
  else if (shown.length) io.out(shown.map(formatMessage).join("\n"));
  else io.err(`\u2714 No validation issues found when analyzing ${target}.${parseErrors ? ` (but ${parseErrors} document${parseErrors === 1 ? "" : "s"} could not be parsed)` : ""}`);
  if (messages.some((m) => LEVELS.indexOf(m.level) <= LEVELS.indexOf(failAt))) {
    if (output === "log") io.err(`Error: Analyzers found issues when analyzing ${target}.\nSee ${DOCS} for more information about causes and resolutions.`);
    return EXIT_FOUND_ISSUES;
  }
  return parseErrors ? 65 : 0;
}
