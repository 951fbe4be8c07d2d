// AuthorizationPolicy's value patterns (exact, prefix `abc*`, suffix `*abc`,
// presence `*`), with the values an attacker would try at their edges: one
// character short, the bare prefix, another case, empty.
import { test } from "node:test";
import assert from "node:assert/strict";
import { matchAnyPattern, matchPattern } from "./match.js";

const CASES: [pattern: string, value: string | undefined, want: boolean][] = [
  ["*", "x", true],
  ["*", "", false],
  ["*", undefined, false],
  ["/api/*", "/api/", true],
  ["/api/*", "/api/v1/x", true],
  ["/api/*", "/api", false],
  ["/api/*", "/ap", false],
  ["/api/*", "/API/x", false],
  ["/api/*", "x/api/", false],
  ["*.example.com", "a.example.com", true],
  ["*.example.com", ".example.com", true],
  ["*.example.com", "example.com", false],
  ["*.example.com", "com", false],
  ["*.example.com", "a.example.com.evil", false],
  ["exact", "exact", true],
  ["exact", "exact2", false],
  ["exact", "exac", false],
  ["exact", "Exact", false],
  ["**", "*x", true],
  ["**", "x*", false],
  ["*a*", "*ab", true],
  ["*a*", "ba", false],
  ["", "x", false],
  ["", "", false],
];

for (const [pattern, value, want] of CASES) {
  test(`matchPattern ${JSON.stringify(pattern)} against ${JSON.stringify(value)}: ${want}`, () => assert.equal(matchPattern(pattern, value), want));
}

test("matchAnyPattern: any of the patterns, none for an empty list", () => {
  assert.equal(matchAnyPattern(["/a/*", "*.b"], "x.b"), true);
  assert.equal(matchAnyPattern(["/a/*", "*.b"], "/b/"), false);
  assert.equal(matchAnyPattern([], "x"), false);
});
