// Regular expressions as Istio and Envoy read them: RE2 (through re2js, a port of RE2 in JavaScript), matched in
// linear time whatever the pattern and the input, so an attacker's URI cannot stall a proxy. Envoy matches a
// resource's regex against the whole value (full match) and rewrites every match (regex_rewrite, `\1` groups).
import { createRequire } from "node:module";
import type { RE2JS as Re2Js } from "re2js";

/**
 * re2js, loaded when the first pattern is compiled: most meshes configure no regex, and the library costs every
 * proxy about 2 MB of memory (measured) that it would never use.
 */
let engine: typeof Re2Js | undefined;
const re2js = () => (engine ??= (createRequire(import.meta.url)("re2js") as { RE2JS: typeof Re2Js }).RE2JS);

export interface Re2 {
  readonly source: string;
  /** The whole value matches (Envoy's safe_regex). */
  matches(value: string): boolean;
  /** Every match replaced by `substitution`, written as Envoy's (`\1` is group 1; anything else literal). */
  replaceAll(value: string, substitution: string): string;
}

/** The compiled pattern, or why RE2 refuses it (its own words). */
export function compileRe2(pattern: string): Re2 | { error: string } {
  let re: Re2Js;
  try {
    re = re2js().compile(pattern);
  } catch (e) {
    return { error: (e as Error).message };
  }
  return {
    source: pattern,
    matches: (value) => re.matches(value),
    // re2js's replacement syntax is JavaScript's: $N a group, $$ a dollar. Envoy's \N becomes $N, a $ stays a $.
    replaceAll: (value, substitution) => re.matcher(value).replaceAll(substitution.replace(/\$/g, "$$$$").replace(/\\(\d)/g, "$$$1")),
  };
}
