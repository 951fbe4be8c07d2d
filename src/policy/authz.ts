// AuthorizationPolicy evaluation with Istio's semantics: CUSTOM, then DENY,
// then ALLOW; dry-run and AUDIT policies are evaluated and recorded only.
import { ipInBlocks } from "../api/cidr.js";
import { hostWithoutPort } from "../api/host.js";
import { matchAnyPattern, matchPattern } from "../api/match.js";
import type { AuthorizationPolicy, AuthzCondition, AuthzOperation, AuthzRule, AuthzSource } from "../api/types.js";
import type { MeshConfig } from "../api/mesh.js";

/** Attributes of one request (or TCP connection) at the destination proxy. */
export interface AuthzContext {
  /** true when the port is parsed as HTTP; false for TCP (L4 only). */
  http: boolean;
  /** mTLS peer principal, "td/ns/NS/sa/SA"; undefined for plaintext. */
  principal?: string;
  sourceIp?: string;
  /** Original client address (X-Forwarded-For aware). */
  remoteIp?: string;
  destinationIp?: string;
  destinationPort: number;
  sni?: string;
  host?: string;
  method?: string;
  /** Path without the query string. */
  path?: string;
  headers: Record<string, string>;
  requestPrincipal?: string;
}

export interface PolicyVerdict {
  policy: string;
  action: AuthorizationPolicy["action"];
  dryRun: boolean;
  /** Index of the matching rule, or undefined when none matched. */
  rule?: number;
  note?: string;
}

export interface AuthzResult {
  allow: boolean;
  reason: string;
  /** The policy (kind/ns/name) that decided, when one did. */
  policy?: string;
  rule?: string;
  /** Every policy considered, in evaluation order. */
  considered: PolicyVerdict[];
  /** For CUSTOM: the provider to ask. */
  customProvider?: string;
}

const namespaceOf = (principal?: string) => principal?.match(/\/ns\/([^/]+)\/sa\//)?.[1];

/** The context with values derived once per evaluation. */
type Attrs = AuthzContext & { sourceNamespace?: string };

/** A field with values and a negated variant: present values must match, negated ones must not. */
function field(values: string[] | undefined, notValues: string[] | undefined, matches: (vals: string[]) => boolean): boolean {
  if (values && !matches(values)) return false;
  if (notValues && matches(notValues)) return false;
  return true;
}

function matchPath(pattern: string, path: string | undefined): boolean {
  if (path === undefined) return false;
  if (pattern.includes("{")) {
    // Path templates: {*} is one segment, {**} any number of them.
    const re = pattern.split(/(\{\*\*\}|\{\*\})/).map((part) =>
      part === "{**}" ? ".*" : part === "{*}" ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("");
    return new RegExp(`^${re}$`).test(path);
  }
  return matchPattern(pattern, path);
}

function matchHost(pattern: string, host: string | undefined): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  const p = pattern.toLowerCase();
  return matchPattern(p, h) || matchPattern(p, hostWithoutPort(h));
}

const HTTP_SOURCE_FIELDS = ["requestPrincipals", "notRequestPrincipals"] as const;
const HTTP_OPERATION_FIELDS = ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"] as const;
const isHttpCondition = (c: AuthzCondition) => c.key.startsWith("request.");

export function ruleUsesHttpFields(rule: AuthzRule): boolean {
  return (
    (rule.from ?? []).some((f) => HTTP_SOURCE_FIELDS.some((k) => f[k] !== undefined)) ||
    (rule.to ?? []).some((t) => HTTP_OPERATION_FIELDS.some((k) => t[k] !== undefined)) ||
    (rule.when ?? []).some(isHttpCondition)
  );
}

function matchSource(s: AuthzSource, ctx: Attrs, ignoreHttp: boolean): boolean {
  const ns = ctx.sourceNamespace;
  return (
    field(s.principals, s.notPrincipals, (v) => matchAnyPattern(v, ctx.principal)) &&
    (ignoreHttp || field(s.requestPrincipals, s.notRequestPrincipals, (v) => matchAnyPattern(v, ctx.requestPrincipal))) &&
    field(s.namespaces, s.notNamespaces, (v) => matchAnyPattern(v, ns)) &&
    field(s.ipBlocks, s.notIpBlocks, (v) => ipInBlocks(ctx.sourceIp, v)) &&
    field(s.remoteIpBlocks, s.notRemoteIpBlocks, (v) => ipInBlocks(ctx.remoteIp ?? ctx.sourceIp, v))
  );
}

function matchOperation(o: AuthzOperation, ctx: AuthzContext, ignoreHttp: boolean): boolean {
  const port = String(ctx.destinationPort);
  return (
    field(o.ports, o.notPorts, (v) => v.includes(port)) &&
    (ignoreHttp || (
      field(o.hosts, o.notHosts, (v) => v.some((p) => matchHost(p, ctx.host))) &&
      field(o.methods, o.notMethods, (v) => matchAnyPattern(v, ctx.method)) &&
      field(o.paths, o.notPaths, (v) => v.some((p) => matchPath(p, ctx.path)))
    ))
  );
}

function conditionValue(key: string, ctx: Attrs): { kind: "ip" | "string" | "port"; value: string | undefined } {
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return { kind: "string", value: ctx.headers[header[1]!.toLowerCase()] };
  switch (key) {
    case "source.ip": return { kind: "ip", value: ctx.sourceIp };
    case "remote.ip": return { kind: "ip", value: ctx.remoteIp ?? ctx.sourceIp };
    case "destination.ip": return { kind: "ip", value: ctx.destinationIp };
    case "destination.port": return { kind: "port", value: String(ctx.destinationPort) };
    case "source.namespace": return { kind: "string", value: ctx.sourceNamespace };
    case "source.principal": return { kind: "string", value: ctx.principal };
    case "request.auth.principal": return { kind: "string", value: ctx.requestPrincipal };
    case "connection.sni": return { kind: "string", value: ctx.sni };
    default: return { kind: "string", value: undefined }; // JWT claims etc.: not present without RequestAuthentication.
  }
}

function matchCondition(c: AuthzCondition, ctx: Attrs): boolean {
  const { kind, value } = conditionValue(c.key, ctx);
  const test = (vals: string[]) =>
    kind === "ip" ? ipInBlocks(value, vals) : kind === "port" ? vals.includes(value ?? "") : matchAnyPattern(vals, value);
  return field(c.values, c.notValues, test);
}

/**
 * Does `rule` match? On TCP traffic, HTTP-only fields make an ALLOW rule
 * match nothing, while a DENY rule ignores them (matching more, to stay safe).
 */
function ruleMatches(rule: AuthzRule, ctx: Attrs, action: AuthorizationPolicy["action"]): boolean {
  let ignoreHttp = false;
  if (!ctx.http && ruleUsesHttpFields(rule)) {
    if (action !== "DENY") return false;
    ignoreHttp = true;
  }
  if (rule.from && !rule.from.some((s) => matchSource(s, ctx, ignoreHttp))) return false;
  if (rule.to && !rule.to.some((o) => matchOperation(o, ctx, ignoreHttp))) return false;
  if (rule.when && !rule.when.every((c) => (ignoreHttp && isHttpCondition(c)) || matchCondition(c, ctx))) return false;
  return true;
}

/** Index of the first matching rule, or undefined. A policy without rules matches nothing. */
function firstMatchingRule(p: AuthorizationPolicy, ctx: Attrs): number | undefined {
  const i = p.rules.findIndex((r) => ruleMatches(r, ctx, p.action));
  return i < 0 ? undefined : i;
}

const nameOf = (p: AuthorizationPolicy) => `AuthorizationPolicy/${p.meta.namespace}/${p.meta.name}`;

interface Compiled {
  policy: AuthorizationPolicy;
  name: string;
}

/** The policies of one workload, grouped by how they are evaluated. Built once per snapshot and workload. */
export interface PolicySet {
  custom: Compiled[];
  deny: Compiled[];
  allow: Compiled[];
  /** AUDIT and dry-run policies: evaluated for the record only. */
  shadow: Compiled[];
}

export function compilePolicySet(policies: readonly AuthorizationPolicy[]): PolicySet {
  const set: PolicySet = { custom: [], deny: [], allow: [], shadow: [] };
  for (const policy of policies) {
    const c = { policy, name: nameOf(policy) };
    if (policy.dryRun || policy.action === "AUDIT") set.shadow.push(c);
    else if (policy.action === "CUSTOM") set.custom.push(c);
    else if (policy.action === "DENY") set.deny.push(c);
    else set.allow.push(c);
  }
  return set;
}

/**
 * Evaluates the policies that apply to one workload for one request. Pure:
 * the same inputs always give the same result.
 */
export function evaluateAuthz(policies: readonly AuthorizationPolicy[] | PolicySet, ctx: AuthzContext, mesh: Pick<MeshConfig, "extensionProviders">): AuthzResult {
  const set = Array.isArray(policies) ? compilePolicySet(policies) : (policies as PolicySet);
  const attrs: Attrs = { ...ctx, sourceNamespace: namespaceOf(ctx.principal) };
  const considered: PolicyVerdict[] = [];
  const verdict = ({ policy: p, name }: Compiled): PolicyVerdict => {
    const v: PolicyVerdict = { policy: name, action: p.action, dryRun: p.dryRun, rule: firstMatchingRule(p, attrs) };
    if (!p.rules.length) v.note = p.action === "ALLOW" ? "no rules: allows nothing" : "no rules: matches nothing";
    considered.push(v);
    return v;
  };

  // AUDIT and dry-run policies never change the outcome; evaluate them for the record.
  for (const c of set.shadow) verdict(c);

  for (const c of set.custom) {
    const v = verdict(c);
    if (v.rule === undefined) continue;
    const p = c.policy;
    const provider = mesh.extensionProviders.find((e) => e.name === p.provider);
    if (!provider || (provider.kind !== "envoyExtAuthzHttp" && provider.kind !== "envoyExtAuthzGrpc")) {
      return { allow: false, reason: `CUSTOM policy names provider "${p.provider}", which meshConfig.extensionProviders does not define as an ext-authz provider; denied (fail closed)`, policy: v.policy, rule: `rules[${v.rule}]`, considered };
    }
    // Istio asks the authorizer here and, when it allows, goes on to DENY and ALLOW. An authorizer that cannot be
    // asked is one that did not allow: this mesh does not call external authorizers yet, so it fails closed.
    return { allow: false, reason: `CUSTOM policy matched: provider "${p.provider}" must allow it first, and no external authorizer is consulted by this mesh yet; denied (fail closed)`, policy: v.policy, rule: `rules[${v.rule}]`, considered, customProvider: p.provider };
  }
  for (const c of set.deny) {
    const v = verdict(c);
    if (v.rule !== undefined) return { allow: false, reason: `DENY policy matched rule ${v.rule}`, policy: v.policy, rule: `rules[${v.rule}]`, considered };
  }
  if (!set.allow.length) return { allow: true, reason: "no ALLOW policy applies to the workload, so everything not denied is allowed", considered };
  for (const c of set.allow) {
    const v = verdict(c);
    if (v.rule !== undefined) return { allow: true, reason: `ALLOW policy matched rule ${v.rule}`, policy: v.policy, rule: `rules[${v.rule}]`, considered };
  }
  const names = considered.filter((v) => v.action === "ALLOW" && !v.dryRun);
  const listed = names.slice(0, 5).map((v) => `${v.policy.replace("AuthorizationPolicy/", "")}: ${v.note ?? "no rule matches"}`).join("; ");
  return {
    allow: false,
    reason: `no ALLOW policy matched (${listed}${names.length > 5 ? `; and ${names.length - 5} more` : ""})`,
    policy: set.allow[0]!.name, considered,
  };
}
