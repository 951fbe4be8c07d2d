// Istio's schema validation as analyzers. Only the VirtualService findings analysis has its own codes for are
// ported: rules no request can reach, and matches an earlier match already takes.
import type { Analyzer, Context } from "../context.js";
import type { AnalysisObject } from "../objects.js";
import { arr, num, rec, str } from "../util.js";

/** A match as routing sees it: a canonical JSON without its name or empty fields, so equal matches compare equal. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(canonical) : undefined;
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const c = canonical((v as Record<string, unknown>)[k]);
      if (c !== undefined) out[k] = c;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v === "" || v === 0 || v === false || v === null ? undefined : v;
}
const matchKey = (m: unknown) => {
  const { name: _name, ...rest } = rec(m);
  return JSON.stringify(canonical(rest) ?? {});
};

const routeName = (route: any, n: number, http: boolean) => (http && str(route?.name) ? JSON.stringify(str(route.name)) : `#${n}`);
const matchName = (match: any, n: number, http: boolean) => (http && str(match?.name) ? JSON.stringify(str(match.name)) : `#${n}`);

/** A StringMatch as "exact:v" or "prefix:v" ("" for neither). */
const exactOrPrefix = (m: unknown) => (str(rec(m).exact) ? `exact:${str(rec(m).exact)}` : str(rec(m).prefix) ? `prefix:${str(rec(m).prefix)}` : "");
const matchMap = (m: unknown) => new Map(Object.entries(rec(m)).map(([k, v]) => [k, exactOrPrefix(v)]));

interface PrefixMatch { route: string; match: string; prefix: string; port: number; method: string; authority: string; headers: Map<string, string>; query: Map<string, string>; without: Map<string, string> }

/** Does the earlier prefix match a cover the later one b (same port; a's conditions each equal to or prefixed by b's)? */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  for (const [x, y] of [[a.headers, b.headers], [a.query, b.query], [a.without, b.without]] as const) {
    if (x.size !== y.size) return false;
    for (const [k, v] of x) {
      const w = y.get(k);
      if (w === undefined || (v !== w && !v.startsWith(w))) return false;
    }
  }
  return true;
}

function unreachableRules(ctx: Context, vs: AnalysisObject, routes: any[], http: boolean): void {
  const seen = new Map<string, number>();
  let empty = -1;
  const prefixes: PrefixMatch[] = [];
  routes.forEach((route, rulen) => {
    if (route === null || route === undefined) return;
    const matches = arr(route.match);
    if (matches.length === 0) {
      if (empty >= 0) ctx.report("VirtualServiceUnreachableRule", vs, routeName(route, rulen, http), "only the last rule can have no matches");
      empty = rulen;
      return;
    }
    let duplicates = 0;
    matches.forEach((match, matchn) => {
      if (empty >= 0) {
        ctx.report("VirtualServiceUnreachableRule", vs, routeName(route, rulen, http), "route without matches defined before");
        return;
      }
      const key = matchKey(match);
      const dup = seen.get(key);
      if (dup !== undefined) {
        ctx.report("VirtualServiceIneffectiveMatch", vs, routeName(route, rulen, http), matchName(match, matchn, http), routeName(routes[dup], dup, http));
        duplicates++;
        return;
      }
      seen.set(key, rulen);
      const prefix = str(rec(rec(match).uri).prefix);
      if (http && prefix) {
        // Requests without a method condition are taken to be GETs.
        prefixes.push({
          route: routeName(route, rulen, http), match: matchName(match, matchn, http), prefix, port: num(match.port),
          method: exactOrPrefix(match.method) || "exact:GET", authority: exactOrPrefix(match.authority),
          headers: matchMap(match.headers), query: matchMap(match.queryParams), without: matchMap(match.withoutHeaders),
        });
      }
    });
    if (duplicates === matches.length) ctx.report("VirtualServiceUnreachableRule", vs, routeName(route, rulen, http), "all matches used by prior rules");
  });
  for (let i = 0; i < prefixes.length; i++) {
    for (let j = i + 1; j < prefixes.length; j++) {
      const [a, b] = [prefixes[i]!, prefixes[j]!];
      if (a.prefix !== b.prefix && covers(a, b)) ctx.report("VirtualServiceIneffectiveMatch", vs, b.route, `${b.match} of prefix ${b.prefix}`, `${a.match} of prefix ${a.prefix} on ${a.route}`);
    }
  }
}

// Routes are tried in order: a rule after a match-all rule, or whose matches all repeat earlier ones, never runs; a
// match that repeats (or, for URI prefixes, is covered by) an earlier one is dead.
export const virtualServiceValidation: Analyzer = {
  name: "schema.ValidationAnalyzer.VirtualService",
  description: "VirtualService rules no request can reach, and matches an earlier match already takes (Istio's validation findings with their own codes).",
  analyze(ctx) {
    for (const vs of ctx.objects.of("VirtualService")) {
      unreachableRules(ctx, vs, arr(vs.spec.http), true);
      unreachableRules(ctx, vs, arr(vs.spec.tcp), false);
      unreachableRules(ctx, vs, arr(vs.spec.tls), false);
    }
  },
};
