import { test } from "node:test";
import assert from "node:assert/strict";
import type { HttpMatch, HttpRoute } from "../api/types.js";
import { rewrittenPath } from "./rewrite.js";
import { compileRe2 } from "../api/re2.js";

const match = (uri: HttpMatch["uri"]): HttpMatch => ({ uri, headers: {}, withoutHeaders: {}, queryParams: {}, sourceLabels: {}, gateways: [], ignoreUriCase: false });
const regex = (m: string, r: string): NonNullable<HttpRoute["rewrite"]> => {
  const compiled = compileRe2(m);
  if ("error" in compiled) throw new Error(compiled.error);
  return { uriRegex: { match: m, compiled, rewrite: r } };
};

const cases: { name: string; path: string; rewrite: NonNullable<HttpRoute["rewrite"]>; matched?: HttpMatch; want: string }[] = [
  { name: "prefix match: the prefix is replaced", path: "/legacy/1", rewrite: { uri: "/v2" }, matched: match({ prefix: "/legacy" }), want: "/v2/1" },
  { name: "prefix match: the query is kept", path: "/legacy/1?a=b", rewrite: { uri: "/v2" }, matched: match({ prefix: "/legacy" }), want: "/v2/1?a=b" },
  { name: "exact match: the whole path is replaced", path: "/old?a=b", rewrite: { uri: "/new" }, matched: match({ exact: "/old" }), want: "/new?a=b" },
  { name: "no match (catch-all route): the whole path is replaced", path: "/x/y", rewrite: { uri: "/" }, want: "/" },
  { name: "regex: captured groups, written as Envoy's \\1", path: "/users/ada/profile", rewrite: regex("^/users/([^/]+)/profile$", "/profiles/\\1"), want: "/profiles/ada" },
  { name: "regex: RE2's named groups, and a $ in the substitution is a $", path: "/users/ada", rewrite: regex("^/users/(?P<name>[a-z]+)$", "/u/\\1/$1"), want: "/u/ada/$1" },
  { name: "regex: every match is replaced", path: "/a/a/b", rewrite: regex("a", "z"), want: "/z/z/b" },
  { name: "regex: no match leaves the path", path: "/b", rewrite: regex("^/a", "/z"), want: "/b" },
  { name: "authority only: the path is kept", path: "/p?q", rewrite: { authority: "x" }, want: "/p?q" },
];

for (const c of cases) {
  test(`rewrite: ${c.name}`, () => assert.equal(rewrittenPath(c.path, c.rewrite, c.matched), c.want));
}
