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
  const n = pattern.length;
  if (n === 0) return false;
  // Compared in place, without slicing the pattern: this runs for every rule tried on every request.
  if (pattern.charCodeAt(n - 1) === STAR) return n === 1 || sameAt(value, 0, pattern, 0, n - 1);
  if (pattern.charCodeAt(0) === STAR) return sameAt(value, value.length - (n - 1), pattern, 1, n - 1);
  return value === pattern;
}

const STAR = 42;

/** Whether `value` holds `pattern`'s `length` characters from `p` at position `at`. */
function sameAt(value: string, at: number, pattern: string, p: number, length: number): boolean {
  if (at < 0 || at + length > value.length) return false;
  for (let i = 0; i < length; i++) if (value.charCodeAt(at + i) !== pattern.charCodeAt(p + i)) return false;
  return true;
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
