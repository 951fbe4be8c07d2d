// Which rules of a group of AuthorizationPolicies could match a request, found
// by lookups instead of trying every rule. Each rule is filed under one
// condition it cannot match without: the caller's principal (exact values), or
// the request's path (exact values, prefixes "/a/*", suffixes "*.b"). A rule
// with no such condition is always a candidate. The candidates come out in
// evaluation order (policy, then rule), so trying them in turn finds the same
// first match as trying every rule: a rule left out could not have matched.
// Built once per snapshot and workload (with the policy set).
import type { AuthorizationPolicy, AuthzRule } from "../api/types.js";

/** A rule's place: policy index × RULES_PER_POLICY + rule index, so that numeric order is evaluation order. */
export type RuleRef = number;
const RULES_PER_POLICY = 1 << 16;
export const refOf = (policy: number, rule: number): RuleRef => policy * RULES_PER_POLICY + rule;
export const policyOf = (ref: RuleRef) => Math.floor(ref / RULES_PER_POLICY);
export const ruleOf = (ref: RuleRef) => ref % RULES_PER_POLICY;

const exact = (v: string) => !v.includes("*");

const NONE: readonly RuleRef[] = Object.freeze([]);
/**
 * The lists one lookup found, reused: most lookups find one list (or none) and return it as it is, so a request
 * makes no array here. Safe to share: candidates() runs to its end without calling out.
 */
const found: RuleRef[][] = [];

/** The principals a rule needs one of, when every source names principals exactly. */
function principalKeys(rule: AuthzRule): string[] | undefined {
  if (!rule.from?.length) return undefined;
  const keys: string[] = [];
  for (const s of rule.from) {
    if (!s.principals?.length || !s.principals.every(exact)) return undefined;
    keys.push(...s.principals);
  }
  return keys;
}

type PathKey = { kind: "exact" | "prefix" | "suffix"; value: string };

/** The paths a rule needs one of, when every operation names paths as exact values, prefixes or suffixes. */
function pathKeys(rule: AuthzRule): PathKey[] | undefined {
  if (!rule.to?.length) return undefined;
  const keys: PathKey[] = [];
  for (const o of rule.to) {
    if (!o.paths?.length) return undefined;
    for (const p of o.paths) {
      if (p.includes("{") || p === "*") return undefined;
      const stars = p.split("*").length - 1;
      if (stars === 0) keys.push({ kind: "exact", value: p });
      else if (stars === 1 && p.endsWith("*")) keys.push({ kind: "prefix", value: p.slice(0, -1) });
      else if (stars === 1 && p.startsWith("*")) keys.push({ kind: "suffix", value: p.slice(1) });
      else return undefined;
    }
  }
  return keys;
}

function file<K>(map: Map<K, RuleRef[]>, key: K, ref: RuleRef): void {
  const list = map.get(key);
  if (!list) map.set(key, [ref]);
  else if (list[list.length - 1] !== ref) list.push(ref);
}

export class RuleIndex {
  private readonly byPrincipal = new Map<string, RuleRef[]>();
  private readonly byPath = new Map<string, RuleRef[]>();
  private readonly byPrefix = new Map<string, RuleRef[]>();
  private readonly bySuffix = new Map<string, RuleRef[]>();
  private readonly prefixLengths: number[];
  private readonly suffixLengths: number[];
  /** Rules filed under nothing: always tried. */
  private readonly always: RuleRef[] = [];
  /** Rules filed under a path: on TCP traffic a DENY rule ignores its HTTP fields, so these are tried too. */
  private readonly byHttpField: RuleRef[] = [];
  readonly size: number;

  constructor(policies: readonly AuthorizationPolicy[]) {
    const prefixLengths = new Set<number>();
    const suffixLengths = new Set<number>();
    let size = 0;
    policies.forEach((p, pi) => p.rules.forEach((rule, ri) => {
      size++;
      const ref = refOf(pi, ri);
      const principals = principalKeys(rule);
      if (principals) return principals.forEach((k) => file(this.byPrincipal, k, ref));
      const paths = pathKeys(rule);
      if (!paths) return void this.always.push(ref);
      this.byHttpField.push(ref);
      for (const k of paths) {
        if (k.kind === "exact") file(this.byPath, k.value, ref);
        else if (k.kind === "prefix") (file(this.byPrefix, k.value, ref), prefixLengths.add(k.value.length));
        else (file(this.bySuffix, k.value, ref), suffixLengths.add(k.value.length));
      }
    }));
    this.prefixLengths = [...prefixLengths].sort((a, b) => a - b);
    this.suffixLengths = [...suffixLengths].sort((a, b) => a - b);
    this.size = size;
  }

  /** The rules that could match, in evaluation order, without repeats. `http`: the request is parsed as HTTP (its path counts). */
  candidates(principal: string | undefined, path: string | undefined, http: boolean): readonly RuleRef[] {
    const lists = found;
    lists.length = 0;
    if (this.always.length) lists.push(this.always);
    if (principal !== undefined) {
      const l = this.byPrincipal.get(principal);
      if (l) lists.push(l);
    }
    if (!http) {
      if (this.byHttpField.length) lists.push(this.byHttpField);
    } else if (path) {
      const l = this.byPath.get(path);
      if (l) lists.push(l);
      for (const n of this.prefixLengths) {
        if (n > path.length) break;
        const p = this.byPrefix.get(path.slice(0, n));
        if (p) lists.push(p);
      }
      for (const n of this.suffixLengths) {
        if (n > path.length) break;
        const s = this.bySuffix.get(path.slice(path.length - n));
        if (s) lists.push(s);
      }
    }
    if (lists.length <= 1) return lists.pop() ?? NONE;
    const all = lists.flat().sort((a, b) => a - b);
    lists.length = 0;
    return all.filter((r, i) => i === 0 || all[i - 1] !== r);
  }
}
