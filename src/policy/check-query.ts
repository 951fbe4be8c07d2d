// "Can A reach B?" asked in words (`--from NS/WORKLOAD --to URL`), as the CLI's
// `check` and the control plane's check route (the dashboard's form) ask it:
// the words become a Source and a Request, and the engine decides against a
// snapshot with token signatures checked for real and no authorizer asked.
import { Codes, ZmError } from "../api/errors.js";
import type { Decision } from "./decision.js";
import { decide } from "./engine.js";
import { settle, worldAnswers } from "./answers.js";
import { errorAnswer } from "./ext-authz.js";
import type { ClientTlsParams, Request, Source } from "./request.js";
import { defaultWorld } from "./world.js";
import { Registry } from "../registry/registry.js";
import type { Snapshot } from "../store/snapshot.js";

export interface CheckQuery {
  /** NS/WORKLOAD, or "outside" (then `via` names the gateway's Service port). */
  from: string;
  via?: string;
  /** http://, https:// or tcp:// URL. */
  to: string;
  method?: string;
  /** "name: value" lines, as curl's -H. */
  headers?: string[];
  /** For https: what the client trusts (none: it does not verify) and its certificate, as PEM certificates. */
  tls?: Pick<ClientTlsParams, "trust" | "clientCert">;
}

export async function checkQuery(snapshot: Snapshot, q: CheckQuery): Promise<Decision> {
  const source = sourceOf(q.from, q.via, Registry.of(snapshot));
  const req = requestOf(q.to, q.method, q.headers ?? [], q.tls);
  const env = { snapshot, world: defaultWorld() };
  // Token signatures are checked for real (inline key sets; a jwksUri check cannot fetch); an authorizer is not asked.
  const fromWorld = worldAnswers(env);
  return settle((facts) => decide({ ...env, facts }, source, req), async (questions, facts) => {
    await fromWorld(questions.filter((q) => q.kind === "jwt"), facts);
    for (const q of questions) if (q.kind === "authorizer") facts.authorizer.set(q.key, errorAnswer(q.provider, "zeromesh check does not call external authorizers; the real answer decides"));
  });
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

function requestOf(to: string, method: string | undefined, headerArgs: string[], tls?: CheckQuery["tls"]): Request {
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
  return {
    scheme, host: u.hostname.toLowerCase(), port, method: (method || "GET").toUpperCase(), path: u.pathname + u.search, headers,
    clientTls: scheme === "https" ? { trust: tls?.trust ?? [], insecure: !tls?.trust?.length, clientCert: tls?.clientCert } : undefined,
  };
}
