// Deciding a request whose answer needs what only I/O (or a slow computation)
// can learn: `settle` runs the engine, finds what it asks for, and runs it again.
// `worldAnswers` finds the answers from a scenario's world alone — the static
// runner's and `check`'s way, agreeing with what the live proxies do for real.
import { standInAuthorize, standInGrpcCheck, standInRespond, type StandInResponse } from "../app/stand-in.js";
import type { Decision } from "./decision.js";
import type { Env } from "./context.js";
import { decide } from "./engine.js";
import { errorAnswer, grpcAnswer, httpAnswer, httpCheckRequest, providerHost, settingsOf } from "./ext-authz.js";
import { noFacts, type AuthorizerAnswer, type Facts, type JwtCheck, type Question } from "./facts.js";
import { PolicyIndex } from "./index.js";
import { JwtErrors } from "./jwt-authn.js";
import { keySet, verifySignature } from "./jwt-verify.js";
import type { Request } from "./request.js";

/** At most this many rounds: token checks, then the authorizer, and one to spare. */
const ROUNDS = 4;

export type Learn = (questions: Question[], facts: Facts) => Promise<void>;

/** Decides with the facts the engine asks for. A decision still asking after every round fails closed. */
export async function settle(decideWith: (facts: Facts) => Decision, learn: Learn, facts = noFacts(), first?: Decision): Promise<Decision> {
  // A caller that already decided once without facts hands that decision in rather than having it made again.
  let d = first ?? decideWith(facts);
  for (let i = 0; i < ROUNDS && d.outcome.kind === "ask"; i++) {
    await learn(d.outcome.questions, facts);
    d = decideWith(facts);
  }
  if (d.outcome.kind !== "ask") return d;
  return { allow: false, code: d.code, policy: d.policy, rule: d.rule, trail: d.trail, outcome: { kind: "response", status: 403, body: "" }, reason: `still undecided after ${ROUNDS} rounds of questions; denied (fail closed)` };
}

/** The answers a scenario's world gives: key sets inline or served by its externals, authorizers by their stand-ins. */
export function worldAnswers(env: Env): Learn {
  return async (questions, facts) => {
    for (const q of questions) {
      if (q.kind === "jwt") facts.jwt.set(q.key, await worldJwt(env, q));
      else facts.authorizer.set(q.key, worldAuthorizer(env, q));
    }
  };
}

async function worldJwt(env: Env, q: Extract<Question, { kind: "jwt" }>): Promise<JwtCheck> {
  const text = q.rule.jwks ?? (q.rule.jwksUri ? fetchInWorld(env, q.rule.jwksUri, q.workload) : undefined);
  if (text === undefined) return { ok: false, error: JwtErrors.FETCH };
  try {
    return await verifySignature(q.token, await keySet(text));
  } catch {
    return { ok: false, error: JwtErrors.NO_KEY };
  }
}

/** GET `uri` from the verifying proxy's workload through the mesh, as the live proxy fetches it: the body of a 200, else undefined. */
function fetchInWorld(env: Env, uri: string, from: Question["workload"]): string | undefined {
  const url = new URL(uri);
  const https = url.protocol === "https:";
  const req: Request = {
    scheme: https ? "https" : "http", host: url.hostname, port: Number(url.port) || (https ? 443 : 80), method: "GET", path: `${url.pathname}${url.search}`,
    headers: { host: url.host },
    // The live proxy trusts the roots it is given for hosts outside the mesh; every external's certificate chains to them.
    clientTls: https ? { trust: [], insecure: true } : undefined,
  };
  const d = decide({ ...env, facts: undefined }, { kind: "workload", workload: from }, req);
  return d.outcome.kind === "response" && d.outcome.status === 200 ? d.outcome.body ?? "" : undefined;
}

function worldAuthorizer(env: Env, q: Extract<Question, { kind: "authorizer" }>): AuthorizerAnswer {
  const p = q.provider;
  const { registry } = PolicyIndex.of(env.snapshot);
  const namespace = p.service?.includes("/") ? p.service.split("/")[0]! : q.workload.namespace;
  const svc = registry.lookup(providerHost(p), namespace)[0];
  const sp = svc?.ports.find((x) => x.port === p.port);
  const ep = svc && sp ? registry.endpoints(svc, sp)[0] : undefined;
  if (!ep) return errorAnswer(p, `no endpoint serves ${p.service}:${p.port}`);
  const b = env.world.app(ep.workload, ep.port, registry.portProtocol(ep.workload, ep.port));
  if (p.kind === "envoyExtAuthzHttp") {
    if (!q.check.http) return errorAnswer(p, "an HTTP authorizer cannot check a TCP connection");
    if (b.serve === "tcp-echo" || b.serve === "https") return errorAnswer(p, `${ep.workload.id}:${ep.port} does not answer plain HTTP`);
    const sent = httpCheckRequest(p, q.check);
    const r: StandInResponse = b.serve === "ext-authz" ? standInAuthorize(sent.headers)
      : standInRespond({ workload: ep.workload.name, namespace: ep.workload.namespace, ...(b.serve === "http" ? { body: b.body, files: b.files } : {}) }, sent);
    if (r.delayMs !== undefined && r.delayMs > settingsOf(p).timeoutMs) return errorAnswer(p, `no answer within ${settingsOf(p).timeoutMs} ms`);
    return httpAnswer(p, r.status, r.headers, r.body);
  }
  if (b.serve !== "ext-authz-grpc") return errorAnswer(p, `${ep.workload.id}:${ep.port} does not answer Authorization/Check`);
  return grpcAnswer(p, standInGrpcCheck(q.check.headers));
}
