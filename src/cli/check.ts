import { readFileSync } from "node:fs";
import { DEFAULT_MESH } from "../api/mesh.js";
import { parsePemCerts } from "../api/kinds/kube.js";
import { describeOutcome, type Decision } from "../policy/decision.js";
import { checkQuery } from "../policy/check-query.js";
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

  const read = (f: string) => parsePemCerts(readFileSync(f, "utf8"));
  const tls = { trust: values.cacert ? read(values.cacert) : [], clientCert: values.cert ? read(values.cert) : undefined };
  const decision = await checkQuery(snapshot, { from: values.from, via: values.via, to: values.to, method: values.request, headers: values.header ?? [], tls });
  printData(io.out, values.output, decision, () => explain(decision));
  return decision.allow ? 0 : 1;
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
