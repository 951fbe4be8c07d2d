import { readFileSync } from "node:fs";
import { Codes, ZmError } from "../api/errors.js";
import { DEFAULT_MESH } from "../api/mesh.js";
import { parsePemCerts } from "../api/kinds/kube.js";
import { describeOutcome, type Decision } from "../policy/decision.js";
import { decide } from "../policy/engine.js";
import { settle, worldAnswers } from "../policy/answers.js";
import { errorAnswer } from "../policy/ext-authz.js";
import type { Request, Source } from "../policy/request.js";
import { defaultWorld } from "../policy/world.js";
import { Registry } from "../registry/registry.js";
import { parseFiles, requireValid } from "../store/apply.js";
import { Snapshot } from "../store/snapshot.js";
import { formatTrail } from "../scenario/report.js";
import { parse } from "./args.js";
import { printData } from "./table.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh check -f PATH... [-n NAMESPACE] --from NS/WORKLOAD|outside [--via NS/SVC:PORT] --to URL [-X METHOD] [-H 'k: v'...] [--cacert FILE] [--cert FILE] [-o json|yaml]";

export async function checkCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {
    filename: { type: "string", short: "f", multiple: true }, namespace: { type: "string", short: "n" },
    from: { type: "string" }, via: { type: "string" }, to: { type: "string" },
    request: { type: "string", short: "X" }, header: { type: "string", short: "H", multiple: true },
    cacert: { type: "string" }, cert: { type: "string" }, output: { type: "string", short: "o" },
  }, USAGE);
  if (!values.filename?.length || !values.from || !values.to) return io.usage(USAGE);
  const parsed = requireValid(parseFiles(values.filename, DEFAULT_MESH, process.cwd(), values.namespace));
  const snapshot = Snapshot.of(parsed.resources, parsed.mesh ?? DEFAULT_MESH);
  const registry = Registry.of(snapshot);

  const source = sourceOf(values.from, values.via, registry);
  const req = requestOf(values.to, values.request, values.header ?? [], values.cacert, values.cert);
  const env = { snapshot, world: defaultWorld() };
  // Token signatures are checked for real (inline key sets; a jwksUri check cannot fetch); an authorizer is not asked.
  const fromWorld = worldAnswers(env);
  const decision = await settle((facts) => decide({ ...env, facts }, source, req), async (questions, facts) => {
    await fromWorld(questions.filter((q) => q.kind === "jwt"), facts);
    for (const q of questions) if (q.kind === "authorizer") facts.authorizer.set(q.key, errorAnswer(q.provider, "zeromesh check does not call external authorizers; the real answer decides"));
  });
  printData(io.out, values.output, decision, () => explain(decision));
  return decision.allow ? 0 : 1;
}

function sourceOf(from: string, via: string | undefined, registry: Registry): Source {
  if (from === "outside") {
    const m = via && /^([a-z0-9-]+)\/([a-z0-9.-]+):(\d+)$/.exec(via);
    if (!m) throw new ZmError(Codes.USAGE, "--from outside needs --via NAMESPACE/SERVICE:PORT");
    return { kind: "outside", via: { namespace: m[1]!, service: m[2]!, port: Number(m[3]) } };
  }
  const w = registry.instancesOf(from)[0] ?? registry.workload(from);
  if (!w) {
    const known = registry.workloads.map((x) => x.owner);
    throw new ZmError(Codes.NOT_FOUND, `no workload "${from}" in the configuration (a Pod, Deployment, ReplicaSet, StatefulSet or WorkloadEntry)${known.length ? `; known: ${[...new Set(known)].join(", ")}` : ""}`);
  }
  return { kind: "workload", workload: w };
}

function requestOf(to: string, method: string | undefined, headerArgs: string[], cacert?: string, cert?: string): Request {
  let u: URL;
  try {
    u = new URL(to);
  } catch {
    throw new ZmError(Codes.USAGE, `--to "${to}" is not a URL (http://, https:// or tcp://)`);
  }
  const scheme = u.protocol.replace(":", "");
  if (scheme !== "http" && scheme !== "https" && scheme !== "tcp") throw new ZmError(Codes.USAGE, `--to scheme must be http, https or tcp`);
  const headers: Record<string, string> = {};
  for (const h of headerArgs) {
    const i = h.indexOf(":");
    if (i <= 0) throw new ZmError(Codes.USAGE, `-H "${h}" must look like "name: value"`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  headers["host"] ??= u.host;
  const port = u.port ? Number(u.port) : scheme === "https" ? 443 : 80;
  const read = (f: string) => parsePemCerts(readFileSync(f, "utf8"));
  return {
    scheme, host: u.hostname.toLowerCase(), port, method: (method ?? "GET").toUpperCase(), path: u.pathname + u.search, headers,
    clientTls: scheme === "https" ? { trust: cacert ? read(cacert) : [], insecure: !cacert, clientCert: cert ? read(cert) : undefined } : undefined,
  };
}

export function explain(d: Decision): string {
  const lines = [
    `${d.allow ? "ALLOWED" : "DENIED"}: ${describeOutcome(d.outcome)}`,
    `reason: ${d.reason}${d.code ? ` [${d.code}]` : ""}`,
  ];
  if (d.policy) lines.push(`decided by: ${d.policy}${d.rule ? ` ${d.rule}` : ""}`);
  lines.push("trail:", formatTrail(d.trail, "  "));
  return lines.join("\n");
}
