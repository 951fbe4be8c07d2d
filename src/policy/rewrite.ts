// The path a route's `rewrite` makes of a request's path. Pure.
import type { HttpMatch, HttpRoute } from "../api/types.js";

/**
 * `uri` replaces the matched prefix when the route matched on a prefix, else
 * the whole path; `uriRegexRewrite` replaces every match. The query string is
 * kept either way.
 */
export function rewrittenPath(path: string, rewrite: NonNullable<HttpRoute["rewrite"]>, matched: HttpMatch | undefined): string {
  const q = path.indexOf("?");
  const [bare, query] = q >= 0 ? [path.slice(0, q), path.slice(q)] : [path, ""];
  if (rewrite.uri !== undefined) {
    const uri = matched?.uri;
    return (uri && "prefix" in uri ? rewrite.uri + bare.slice(uri.prefix.length) : rewrite.uri) + query;
  }
  if (rewrite.uriRegex) return rewrite.uriRegex.compiled.replaceAll(bare, rewrite.uriRegex.rewrite) + query;
  return path;
}
