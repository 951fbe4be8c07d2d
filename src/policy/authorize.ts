// The AuthorizationPolicy step of a proxy that receives traffic (a sidecar's
// inbound or a gateway's listener): evaluate, record every policy in the
// trail, and return the denial if there is one.
import type { Workload } from "../registry/model.js";
import { evaluateAuthz, type AuthzContext } from "./authz.js";
import { proxyLabel, type Walk } from "./context.js";
import { DenyCodes, type Decision } from "./decision.js";
import type { Arrival } from "./inbound.js";
import { pathOnly, requestAuthority } from "./request.js";

/** Undefined when the request may go on; otherwise the denial (403 for HTTP, a reset for TCP). */
export function authorize(walk: Walk, w: Workload, port: number, arrival: Arrival, http: boolean): Decision | undefined {
  const { index, trail, req } = walk;
  const at = proxyLabel(w);
  const ctx: AuthzContext = {
    http,
    principal: arrival.mtlsFrom?.principal,
    sourceIp: arrival.sourceIp,
    // What a gateway's edge step decided (X-Forwarded-For as far as numTrustedProxies trusts it), else the peer: never
    // a header's first entry, which the client writes.
    remoteIp: arrival.remoteIp ?? arrival.sourceIp,
    destinationPort: port,
    sni: req.scheme === "https" ? req.host : undefined,
    host: requestAuthority(req),
    method: req.method,
    path: pathOnly(req.path),
    headers: req.headers,
  };
  const policies = index.authzFor(w);
  const result = evaluateAuthz(policies, ctx, index.mesh);
  // Every policy considered is named, unless there are so many that only the deciding ones help.
  const many = result.considered.length > 20;
  for (const v of result.considered) {
    if (many && v.rule === undefined) continue;
    const shadow = v.dryRun || v.action === "AUDIT";
    trail.add({
      stage: "authz", at, policy: v.policy, shadow,
      rule: v.rule !== undefined ? `rules[${v.rule}]` : undefined,
      message: `${v.action}${v.dryRun ? " (dry-run: recorded, not enforced)" : ""} ${v.policy}: ${v.rule !== undefined ? `rule ${v.rule} matches` : v.note ?? "no rule matches"}${http ? "" : " (L4: TCP traffic)"}`,
    });
  }
  if (many) trail.add({ stage: "authz", at, message: `${result.considered.length} policies considered; ${result.considered.filter((v) => v.rule === undefined).length} matched no rule (each is listed in this step's details)`, details: result.considered });
  // A gateway with no policy at all says nothing, to keep its trails short.
  if (w.gateway && !result.considered.length) return undefined;
  trail.add({ stage: "authz", at, message: `${result.allow ? "allowed" : "denied"}: ${result.reason}`, policy: result.policy, rule: result.rule });
  if (result.allow) return undefined;
  // An authorizer that did not allow answers as Envoy's ext_authz filter does when it cannot ask: 403 with no body.
  const custom = result.customProvider !== undefined;
  const outcome = !http ? { kind: "error" as const, error: "reset" as const }
    : custom ? { kind: "response" as const, status: 403, body: "" }
    : { kind: "response" as const, status: 403, body: "RBAC: access denied", headers: { "content-type": "text/plain" } };
  return trail.deny(outcome, `${result.policy ?? "authorization"} denied the request: ${result.reason}`, custom ? DenyCodes.AUTHORIZER : DenyCodes.AUTHZ, result.policy, result.rule);
}
