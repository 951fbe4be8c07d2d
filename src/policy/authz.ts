// AuthorizationPolicy evaluation with Istio's semantics: CUSTOM, then DENY,
// then ALLOW; dry-run and AUDIT policies are evaluated and recorded only.
import { BoundedMap } from "../bounded-map.js";
import { ipInBlocks } from "../api/cidr.js";
import { hostWithoutPort } from "../api/host.js";
import { matchAnyPattern, matchPattern } from "../api/match.js";
import type { AuthorizationPolicy, AuthzCondition, AuthzOperation, AuthzRule, AuthzSource } from "../api/types.js";
import type { ExtensionProvider, MeshConfig } from "../api/mesh.js";
import { policyOf, refOf, RuleIndex, ruleOf, type RuleRef } from "./authz-index.js";

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
  /** The verified end user's token (RequestAuthentication): "iss/sub". */
  requestPrincipal?: string;
  /** The verified token's claims, audiences and presenter (`request.auth.*`). */
  requestAuth?: { claims: Record<string, unknown>; audiences: string[]; presenter?: string };
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
  /** Every policy considered, in evaluation order (built when read: with many policies, most are never looked at). */
  readonly considered: PolicyVerdict[];
  /** How many there are. */
  consideredCount: number;
  /** The considered policies that matched a rule, in evaluation order. */
  readonly matched: PolicyVerdict[];
  /** A CUSTOM policy matched: this authorizer must be asked; DENY and ALLOW follow only if it allows (customAllowed). */
  customProvider?: ExtensionProvider;
}

/** Namespaces of the principals seen lately: the same few callers on every request. */
const namespaces = new BoundedMap<string, string | undefined>(1024);

function namespaceOf(principal?: string): string | undefined {
  if (principal === undefined) return undefined;
  if (namespaces.has(principal)) return namespaces.get(principal);
  const ns = /\/ns\/([^/]+)\/sa\//.exec(principal)?.[1];
  namespaces.set(principal, ns);
  return ns;
}
const serviceAccountOf = (principal?: string) => principal?.match(/\/ns\/([^/]+)\/sa\/([^/]+)$/)?.slice(1, 3).join("/");
const trustDomainOf = (principal?: string) => principal?.match(/^(.+?)\/ns\//)?.[1];

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

/** A field of patterns (and negated patterns) against one value. */
function patterns(values: string[] | undefined, notValues: string[] | undefined, value: string | undefined): boolean {
  if (values && !matchAnyPattern(values, value)) return false;
  if (notValues && matchAnyPattern(notValues, value)) return false;
  return true;
}

/** Whether a field is set at all: an absent one matches (and costs nothing: this runs for every rule tried). */
const set = (values: unknown, notValues: unknown) => values !== undefined || notValues !== undefined;

function matchSource(s: AuthzSource, ctx: AuthzContext, ignoreHttp: boolean): boolean {
  return (
    patterns(s.principals, s.notPrincipals, ctx.principal) &&
    (ignoreHttp || patterns(s.requestPrincipals, s.notRequestPrincipals, ctx.requestPrincipal)) &&
    (!set(s.namespaces, s.notNamespaces) || patterns(s.namespaces, s.notNamespaces, namespaceOf(ctx.principal))) &&
    (!set(s.serviceAccounts, s.notServiceAccounts) || each(s.serviceAccounts, s.notServiceAccounts, inList, serviceAccountOf(ctx.principal) ?? "")) &&
    (!set(s.trustDomains, s.notTrustDomains) || patterns(s.trustDomains, s.notTrustDomains, trustDomainOf(ctx.principal))) &&
    (!set(s.ipBlocks, s.notIpBlocks) || each(s.ipBlocks, s.notIpBlocks, inBlocks, ctx.sourceIp)) &&
    (!set(s.remoteIpBlocks, s.notRemoteIpBlocks) || each(s.remoteIpBlocks, s.notRemoteIpBlocks, inBlocks, ctx.remoteIp ?? ctx.sourceIp))
  );
}

function matchOperation(o: AuthzOperation, ctx: AuthzContext, ignoreHttp: boolean): boolean {
  return (
    (!set(o.ports, o.notPorts) || each(o.ports, o.notPorts, inList, String(ctx.destinationPort))) &&
    (ignoreHttp || (
      (!set(o.hosts, o.notHosts) || each(o.hosts, o.notHosts, anyHost, ctx.host)) &&
      patterns(o.methods, o.notMethods, ctx.method) &&
      (!set(o.paths, o.notPaths) || each(o.paths, o.notPaths, anyPath, ctx.path))
    ))
  );
}

/**
 * A field with values and a negated variant, against one value: present values must match, negated ones must
 * not. `matches` is a plain function of (list, value), so no closure is made per rule tried.
 */
function each<T>(values: string[] | undefined, notValues: string[] | undefined, matches: (list: string[], value: T) => boolean, value: T): boolean {
  if (values && !matches(values, value)) return false;
  if (notValues && matches(notValues, value)) return false;
  return true;
}

const inList = (list: string[], value: string) => list.includes(value);
const inBlocks = (list: string[], ip: string | undefined) => ipInBlocks(ip, list);
const anyHost = (list: string[], host: string | undefined) => list.some((p) => matchHost(p, host));
const anyPath = (list: string[], path: string | undefined) => {
  for (const p of list) if (matchPath(p, path)) return true;
  return false;
};

type Value = { kind: "ip" | "string" | "port"; values: (string | undefined)[] };

/** A claim's values: a list claim is each of its strings; a scalar is itself. */
function claimValues(claims: Record<string, unknown> | undefined, key: string): (string | undefined)[] {
  const path = [...key.slice("request.auth.claims".length).matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!);
  let v: unknown = claims;
  for (const k of path) v = typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  if (Array.isArray(v)) return v.filter((x) => typeof x === "string");
  return [typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined];
}

function conditionValue(key: string, ctx: AuthzContext): Value {
  const one = (kind: Value["kind"], value: string | undefined): Value => ({ kind, values: [value] });
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return one("string", ctx.headers[header[1]!.toLowerCase()]);
  if (key.startsWith("request.auth.claims[")) return { kind: "string", values: claimValues(ctx.requestAuth?.claims, key) };
  switch (key) {
    case "source.ip": return one("ip", ctx.sourceIp);
    case "remote.ip": return one("ip", ctx.remoteIp ?? ctx.sourceIp);
    case "destination.ip": return one("ip", ctx.destinationIp);
    case "destination.port": return one("port", String(ctx.destinationPort));
    case "source.namespace": return one("string", namespaceOf(ctx.principal));
    case "source.principal": return one("string", ctx.principal);
    case "source.serviceAccount": return one("string", serviceAccountOf(ctx.principal));
    case "source.trustDomain": return one("string", trustDomainOf(ctx.principal));
    case "request.auth.principal": return one("string", ctx.requestPrincipal);
    case "request.auth.audiences": return { kind: "string", values: ctx.requestAuth?.audiences ?? [undefined] };
    case "request.auth.presenter": return one("string", ctx.requestAuth?.presenter);
    case "connection.sni": return one("string", ctx.sni);
    default: return one("string", undefined);
  }
}

/** The header a `request.headers[NAME]` condition key names (lower case), null for other keys; read once per key. */
const headerKeys = new BoundedMap<string, string | null>(1024);

function headerOf(key: string): string | null {
  let h = headerKeys.get(key);
  if (h === undefined) headerKeys.set(key, (h = /^request\.headers\[(.+)\]$/.exec(key)?.[1]!.toLowerCase() ?? null));
  return h;
}

function matchCondition(c: AuthzCondition, ctx: AuthzContext): boolean {
  // Header conditions, the common kind, match one value: no list or closure per rule tried.
  const header = headerOf(c.key);
  if (header !== null) return patterns(c.values, c.notValues, ctx.headers[header]);
  const { kind, values } = conditionValue(c.key, ctx);
  const test = (vals: string[]) => values.some((value) =>
    kind === "ip" ? ipInBlocks(value, vals) : kind === "port" ? vals.includes(value ?? "") : matchAnyPattern(vals, value));
  return each(c.values, c.notValues, test, undefined);
}

/**
 * Does `rule` match? On TCP traffic, HTTP-only fields make an ALLOW rule
 * match nothing, while a DENY rule ignores them (matching more, to stay safe).
 */
function ruleMatches(rule: AuthzRule, ctx: AuthzContext, action: AuthorizationPolicy["action"]): boolean {
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

const nameOf = (p: AuthorizationPolicy) => `AuthorizationPolicy/${p.meta.namespace}/${p.meta.name}`;

interface Compiled {
  policy: AuthorizationPolicy;
  name: string;
}

type Group = "shadow" | "custom" | "deny" | "allow";
/** Istio's order; shadow (AUDIT and dry-run) policies are evaluated first, for the record only. */
const GROUPS: readonly Group[] = ["shadow", "custom", "deny", "allow"];

/** The policies of one workload, grouped by how they are evaluated, each group with its rule index. Built once per snapshot and workload. */
export interface PolicySet {
  custom: Compiled[];
  deny: Compiled[];
  allow: Compiled[];
  /** AUDIT and dry-run policies: evaluated for the record only. */
  shadow: Compiled[];
  indexes: Record<Group, RuleIndex>;
}

export function compilePolicySet(policies: readonly AuthorizationPolicy[]): PolicySet {
  const groups: Record<Group, Compiled[]> = { custom: [], deny: [], allow: [], shadow: [] };
  for (const policy of policies) {
    const c = { policy, name: nameOf(policy) };
    if (policy.dryRun || policy.action === "AUDIT") groups.shadow.push(c);
    else if (policy.action === "CUSTOM") groups.custom.push(c);
    else if (policy.action === "DENY") groups.deny.push(c);
    else groups.allow.push(c);
  }
  const index = (g: Group) => new RuleIndex(groups[g].map((c) => c.policy));
  return { ...groups, indexes: { shadow: index("shadow"), custom: index("custom"), deny: index("deny"), allow: index("allow") } };
}

/** Every rule of a group, in order: what the index narrows down (kept for the property test that compares them). */
function everyRule(group: Compiled[]): RuleRef[] {
  return group.flatMap((c, pi) => c.policy.rules.map((_, ri) => refOf(pi, ri)));
}

/**
 * The first matching rule of each policy in `refs` (policy index → rule index), in order; with `first`, only the
 * first policy that matches. `refs` must list, in evaluation order, every rule that could match.
 */
function matches(group: Compiled[], refs: readonly RuleRef[], attrs: AuthzContext, first: boolean): Map<number, number> | undefined {
  let out: Map<number, number> | undefined;
  for (const ref of refs) {
    const pi = policyOf(ref);
    if (out?.has(pi)) continue;
    const p = group[pi]!.policy;
    if (ruleMatches(p.rules[ruleOf(ref)]!, attrs, p.action)) {
      (out ??= new Map()).set(pi, ruleOf(ref));
      if (first) break;
    }
  }
  return out;
}

type Found = Partial<Record<Group, Map<number, number>>>;

function verdictOf(set: PolicySet, found: Found, g: Group, pi: number): PolicyVerdict {
  const { policy: p, name } = set[g][pi]!;
  const v: PolicyVerdict = { policy: name, action: p.action, dryRun: p.dryRun, rule: found[g]?.get(pi) };
  if (!p.rules.length) v.note = p.action === "ALLOW" ? "no rules: allows nothing" : "no rules: matches nothing";
  return v;
}

/**
 * An evaluation's result. The policies it considered and matched are listed when read, and the reason is worded
 * when read: most results are never explained.
 */
class Evaluated implements AuthzResult {
  allow = false;
  policy?: string;
  rule?: string;
  customProvider?: ExtensionProvider;
  /** How many policies of each group were considered (a group stops at the policy that decides). */
  readonly upTo: Record<Group, number> = { shadow: 0, custom: 0, deny: 0, allow: 0 };
  /** Each group's matching policies (policy index → first matching rule). */
  readonly found: Found = {};
  #reason: string | (() => string) = "";
  #considered?: PolicyVerdict[];
  #matched?: PolicyVerdict[];
  readonly #set: PolicySet;

  constructor(set: PolicySet) {
    this.#set = set;
  }

  get reason(): string {
    if (typeof this.#reason === "function") this.#reason = this.#reason();
    return this.#reason;
  }

  get consideredCount(): number {
    return this.upTo.shadow + this.upTo.custom + this.upTo.deny + this.upTo.allow;
  }

  /** Tries group `g`'s candidate rules; with `first`, stops at the first policy that matches and returns its index. */
  scan(g: Group, first: boolean, attrs: AuthzContext, plain: boolean): number | undefined {
    const set = this.#set;
    // A group with no policy (most workloads have no CUSTOM, DENY or shadow one) considers nothing.
    if (!set[g].length) return undefined;
    const refs = plain ? everyRule(set[g]) : set.indexes[g].candidates(attrs.principal, attrs.path, attrs.http);
    const m = matches(set[g], refs, attrs, first);
    if (m) this.found[g] = m;
    const decided = first && m ? m.keys().next().value! : undefined;
    this.upTo[g] = decided === undefined ? set[g].length : decided + 1;
    return decided;
  }

  /** The result: decided by policy `pi` of group `g` when given (its first matching rule named), for `reason`. */
  decide(allow: boolean, reason: string | (() => string), g?: Group, pi?: number): this {
    this.allow = allow;
    this.#reason = reason;
    if (g !== undefined && pi !== undefined) {
      this.policy = this.#set[g][pi]!.name;
      this.rule = `rules[${this.found[g]?.get(pi)}]`;
    }
    return this;
  }

  verdict(g: Group, pi: number): PolicyVerdict {
    return verdictOf(this.#set, this.found, g, pi);
  }

  get considered(): PolicyVerdict[] {
    return (this.#considered ??= GROUPS.flatMap((g) => Array.from({ length: this.upTo[g] }, (_, pi) => this.verdict(g, pi))));
  }

  /** Matches come in evaluation order (candidates are), and only from considered policies. */
  get matched(): PolicyVerdict[] {
    if (!this.#matched) {
      this.#matched = [];
      for (const g of GROUPS) for (const pi of this.found[g]?.keys() ?? []) this.#matched.push(this.verdict(g, pi));
    }
    return this.#matched;
  }

  /** As JSON, the fields a result had before it was lazy (the lists are made only when read). */
  toJSON(): Omit<AuthzResult, "considered" | "matched"> {
    return { allow: this.allow, reason: this.reason, policy: this.policy, rule: this.rule, customProvider: this.customProvider, consideredCount: this.consideredCount };
  }
}

/**
 * Evaluates the policies that apply to one workload for one request. Pure:
 * the same inputs always give the same result. `customAllowed`: the CUSTOM
 * policy's authorizer was asked and allowed, so DENY and ALLOW decide now.
 * Only the rules the index names are tried (`plain`: every rule, as a
 * reference); the list of every policy considered is built when read.
 */
export function evaluateAuthz(policies: readonly AuthorizationPolicy[] | PolicySet, ctx: AuthzContext, mesh: Pick<MeshConfig, "extensionProviders">, customAllowed = false, plain = false): AuthzResult {
  const set = Array.isArray(policies) ? compilePolicySet(policies) : (policies as PolicySet);
  const r = new Evaluated(set);

  // AUDIT and dry-run policies never change the outcome; evaluate them for the record.
  r.scan("shadow", false, ctx, plain);

  // Istio builds one ext_authz filter per workload: CUSTOM policies naming different providers are a configuration
  // error it answers with a deny-all in their place.
  const custom = r.scan("custom", !customAllowed, ctx, plain);
  if (custom !== undefined) {
    const p = set.custom[custom]!.policy;
    const providers = new Set(set.custom.map((c) => c.policy.provider));
    if (providers.size > 1) {
      return r.decide(false, `CUSTOM policies on this workload name ${providers.size} providers (${[...providers].join(", ")}); Istio allows one per workload and denies what they match`, "custom", custom);
    }
    const provider = mesh.extensionProviders.find((e) => e.name === p.provider);
    if (!provider || (provider.kind !== "envoyExtAuthzHttp" && provider.kind !== "envoyExtAuthzGrpc")) {
      return r.decide(false, `CUSTOM policy names provider "${p.provider}", which meshConfig.extensionProviders does not define as an ext-authz provider; denied (fail closed)`, "custom", custom);
    }
    // Istio asks the authorizer here and, only when it allows, goes on to DENY and ALLOW (customAllowed).
    r.customProvider = provider;
    return r.decide(false, () => `CUSTOM policy matched rule ${r.found.custom?.get(custom)}: the authorizer "${provider.name}" decides first`, "custom", custom);
  }
  const deny = r.scan("deny", true, ctx, plain);
  if (deny !== undefined) return r.decide(false, () => `DENY policy matched rule ${r.found.deny?.get(deny)}`, "deny", deny);
  if (!set.allow.length) return r.decide(true, "no ALLOW policy applies to the workload, so everything not denied is allowed");
  const allow = r.scan("allow", true, ctx, plain);
  if (allow !== undefined) return r.decide(true, () => `ALLOW policy matched rule ${r.found.allow?.get(allow)}`, "allow", allow);
  // None matched: the first few enforced ALLOW policies say why.
  r.decide(false, () => {
    const listed = set.allow.slice(0, 5).map((_, pi) => r.verdict("allow", pi)).map((v) => `${v.policy.replace("AuthorizationPolicy/", "")}: ${v.note ?? "no rule matches"}`).join("; ");
    return `no ALLOW policy matched (${listed}${set.allow.length > 5 ? `; and ${set.allow.length - 5} more` : ""})`;
  });
  r.policy = set.allow[0]!.name;
  return r;
}
