// String matchers of the two kinds Istio uses: VirtualService's
// {exact|prefix|regex} objects and AuthorizationPolicy's glob-lite strings.

import type { Re2 } from "./re2.js";

export type StringMatch =
  | { exact: string }
  | { prefix: string }
  | { regex: string; compiled: Re2 };

export function matchString(m: StringMatch, value: string | undefined, ignoreCase = false): boolean {
  if (value === undefined) return false;
  const v = ignoreCase ? value.toLowerCase() : value;
  if ("exact" in m) return v === (ignoreCase ? m.exact.toLowerCase() : m.exact);
  if ("prefix" in m) return v.startsWith(ignoreCase ? m.prefix.toLowerCase() : m.prefix);
  return m.compiled.matches(value);
}

export function describeStringMatch(m: StringMatch): string {
  if ("exact" in m) return `exact "${m.exact}"`;
  if ("prefix" in m) return `prefix "${m.prefix}"`;
  return `regex "${m.regex}"`;
}

/**
 * AuthorizationPolicy value matching: exact, prefix `abc*`, suffix `*abc`,
 * or presence `*` (any non-empty value).
 */
export function matchPattern(pattern: string, value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

export function matchAnyPattern(patterns: readonly string[], value: string | undefined): boolean {
  for (const p of patterns) if (matchPattern(p, value)) return true;
  return false;
}

/** Kubernetes equality-based label selection; an empty selector matches everything. */
export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}
