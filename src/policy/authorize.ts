// The security filters of a proxy that receives traffic (a sidecar's inbound or
// a gateway's listener), in Envoy's order as Istio builds it: end-user JWTs
// (RequestAuthentication), then AuthorizationPolicy: CUSTOM (the external
// authorizer), DENY, ALLOW. Records every step in the trail and returns the
// denial, or a question for the proxy when an answer needs I/O.
import type { Workload } from "../registry/model.js";
import { evaluateAuthz, type AuthzContext, type AuthzResult } from "./authz.js";
import { proxyLabel, type Walk } from "./context.js";
import { DenyCodes, type Decision, type TrailStep } from "./decision.js";
import { authorizerQuestionKey, type CheckInput } from "./facts.js";
import type { Arrival } from "./inbound.js";
import { authenticate, type EndUser } from "./jwt-authn.js";
import { pathOnly, requestAuthority } from "./request.js";

/** Undefined when the request may go on; otherwise the denial (403/401 for HTTP, a reset for TCP) or an `ask`. */
export function authorize(walk: Walk, w: Workload, port: number, arrival: Arrival, http: boolean): Decision | undefined {
  const { index, trail } = walk;
  const at = proxyLabel(w);
  let user: EndUser | undefined;
  if (http) {
    const authn = authenticateAt(walk, w, at);
    if (authn && "outcome" in authn) return authn;
    user = authn?.user;
    walk.endUser = user;
  }
  const req = walk.req;
  const ctx: AuthzContext = {
    http,
    principal: arrival.mtlsFrom?.principal,
    sourceIp: arrival.sourceIp,
    // What a gateway's edge step decided (X-Forwarded-For as far as numTrustedProxies trusts it), else the peer: never
    // a header's first entry, which the client writes.
    remoteIp: arrival.remoteIp ?? arrival.sourceIp,
    destinationIp: w.address,
    destinationPort: port,
    sni: req.scheme === "https" ? req.host : undefined,
    host: requestAuthority(req),
    method: req.method,
    path: pathOnly(req.path),
    headers: req.headers,
    requestPrincipal: user?.principal,
    requestAuth: user && { claims: user.claims, audiences: user.audiences, presenter: user.presenter },
  };
  const policies = index.authzFor(w);
  let result = evaluateAuthz(policies, ctx, index.mesh);
  const provider = result.customProvider;
  let asked: string | undefined;
  if (provider) {
    const key = authorizerQuestionKey(at, provider.name);
    const answer = walk.env.facts?.authorizer.get(key);
    if (!answer) {
      const check = checkInput(walk, w, port, arrival, http);
      trail.add({ stage: "authz", at, message: `CUSTOM ${result.policy} ${result.rule} matches: asking the authorizer "${provider.name}" (${provider.service}:${provider.port})`, policy: result.policy, rule: result.rule });
      return trail.end({ kind: "ask", questions: [{ kind: "authorizer", key, provider, check, workload: w }] }, `the authorizer "${provider.name}" must answer first`);
    }
    asked = `CUSTOM ${result.policy} ${result.rule} matched; asked the authorizer "${provider.name}" (${provider.service}:${provider.port}): ${answer.detail}`;
    if (answer.verdict !== "allow") {
      record(walk, at, result, http, w.gateway);
      trail.add({ stage: "authz", at, message: asked, policy: result.policy, rule: result.rule });
      const outcome = http
        ? { kind: "response" as const, status: answer.status ?? 403, body: answer.body ?? "", headers: answer.downstream }
        : { kind: "error" as const, error: "reset" as const };
      return trail.deny(outcome, `${result.policy} sent the request to the authorizer "${provider.name}": ${answer.detail}`, DenyCodes.AUTHORIZER, result.policy, result.rule);
    }
    changeUpstream(walk, answer.upstream, answer.upstreamRemove);
    if (Object.keys(answer.downstream).length) walk.responseOps.push([{ set: answer.downstream, add: {}, remove: [] }]);
    result = evaluateAuthz(policies, ctx, index.mesh, true);
  }
  record(walk, at, result, http, w.gateway);
  if (asked) trail.add({ stage: "authz", at, message: asked });
  // A gateway with no policy at all says nothing, to keep its trails short.
  if (w.gateway && !result.consideredCount) return undefined;
  const decided = result;
  trail.add(() => ({ stage: "authz", at, message: `${decided.allow ? "allowed" : "denied"}: ${decided.reason}`, policy: decided.policy, rule: decided.rule }));
  if (result.allow) return undefined;
  const outcome = !http ? { kind: "error" as const, error: "reset" as const }
    : { kind: "response" as const, status: 403, body: "RBAC: access denied", headers: { "content-type": "text/plain" } };
  return trail.deny(outcome, `${result.policy ?? "authorization"} denied the request: ${result.reason}`, DenyCodes.AUTHZ, result.policy, result.rule);
}

/** RequestAuthentication at this proxy: the end user, a denial, an `ask`, or undefined when no rule applies. */
function authenticateAt(walk: Walk, w: Workload, at: string): { user?: EndUser } | Decision | undefined {
  const rules = walk.index.jwtRulesFor(w);
  if (!rules.length) return undefined;
  const { trail, req } = walk;
  const a = authenticate(rules, req.headers, req.path, walk.env.facts, walk.env.world.now, w);
  if (a.kind === "ask") {
    trail.add({ stage: "authn", at, message: `${a.questions.length === 1 ? "a token" : `${a.questions.length} tokens`} to verify against the issuer's keys` });
    return trail.end({ kind: "ask", questions: a.questions }, "token signatures must be verified first");
  }
  if (a.kind === "deny") {
    trail.add({ stage: "authn", at, message: a.reason, policy: a.policy, rule: a.rule });
    // Envoy's jwt_authn answers with its error as the body and a Bearer challenge.
    const realm = `http://${requestAuthority(req)}${pathOnly(req.path)}`;
    return trail.deny({ kind: "response", status: a.status, body: a.body, headers: { "content-type": "text/plain", "www-authenticate": `Bearer realm="${realm}", error="invalid_token"` } },
      `${a.policy ?? "RequestAuthentication"} refused the request's token: ${a.body}`, DenyCodes.JWT, a.policy, a.rule);
  }
  trail.add({ stage: "authn", at, message: a.note, policy: a.user?.policy, rule: a.user?.rule });
  changeUpstream(walk, a.set, a.remove);
  return { user: a.user };
}

/** Headers this proxy sets on or removes from the request it passes on (after JWT and the authorizer). */
function changeUpstream(walk: Walk, set: Record<string, string>, remove: readonly string[]): void {
  if (!remove.length && !Object.keys(set).length) return;
  const headers = { ...walk.req.headers };
  for (const h of remove) delete headers[h];
  Object.assign(headers, set);
  walk.req = { ...walk.req, headers };
  // A new record, never a change to the old one: a walk starts with a shared empty one.
  walk.upstream = { set: { ...walk.upstream.set, ...set }, remove: [...walk.upstream.remove.filter((h) => !(h in set)), ...remove] };
}

/** Every policy considered is named, unless there are so many that only the deciding ones help. */
function record(walk: Walk, at: string, result: AuthzResult, http: boolean, gateway: boolean): void {
  const count = result.consideredCount;
  if (gateway && !count) return;
  const many = count > 20;
  walk.trail.add(() => (many ? result.matched : result.considered).map((v) => ({
    stage: "authz", at, policy: v.policy, shadow: v.dryRun || v.action === "AUDIT",
    rule: v.rule !== undefined ? `rules[${v.rule}]` : undefined,
    message: `${v.action}${v.dryRun ? " (dry-run: recorded, not enforced)" : ""} ${v.policy}: ${v.rule !== undefined ? `rule ${v.rule} matches` : v.note ?? "no rule matches"}${http ? "" : " (L4: TCP traffic)"}`,
  })));
  if (!many) return;
  // Made when the trail is read; and even then the list of every policy only if someone reads it (-o json, a test):
  // most decisions are never explained.
  walk.trail.add(() => {
    const step: TrailStep = { stage: "authz", at, message: `${count} policies considered; ${count - result.matched.length} matched no rule (each is listed in this step's details)` };
    Object.defineProperty(step, "details", { get: () => result.considered, enumerable: true });
    return step;
  });
}

/** What the authorizer is told about the request (Envoy's AttributeContext). */
function checkInput(walk: Walk, w: Workload, port: number, arrival: Arrival, http: boolean): CheckInput {
  const req = walk.req;
  return {
    http, method: req.method, path: req.path, host: requestAuthority(req), scheme: req.scheme === "https" ? "https" : "http", headers: req.headers,
    sourceIp: arrival.sourceIp, sourcePrincipal: arrival.mtlsFrom?.spiffe, destinationIp: w.address, destinationPort: port, destinationPrincipal: w.spiffe,
    sni: req.scheme === "https" ? req.host : undefined,
  };
}
