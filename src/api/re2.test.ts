// Regexes as Envoy reads them: RE2 syntax, full match, linear time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileRe2, type Re2 } from "./re2.js";

const re = (p: string): Re2 => {
  const c = compileRe2(p);
  if ("error" in c) throw new Error(c.error);
  return c;
};

/** Pattern, value, whether the whole value matches. */
const cases: [string, string, boolean][] = [
  // Valid RE2 that JavaScript's RegExp refuses.
  ["(?i)/api/.*", "/API/orders", true],
  ["/users/(?P<id>[0-9]+)", "/users/42", true],
  ["/users/(?P<id>[0-9]+)", "/users/ada", false],
  // Means something else in JavaScript: a POSIX class, not a set of brackets and colons.
  ["[[:alpha:]]+", "alice", true],
  ["[[:alpha:]]+", ":]]", false],
  // Full match, as Envoy's safe_regex: no implicit search, alternation over the whole value.
  ["/api", "/api/x", false],
  ["a|b", "ab", false],
  ["a|b", "b", true],
  ["\\Q.*\\E", ".*", true],
  ["\\Q.*\\E", "xx", false],
];

for (const [p, v, want] of cases) test(`re2: ${JSON.stringify(p)} ${want ? "matches" : "does not match"} ${JSON.stringify(v)}`, () => assert.equal(re(p).matches(v), want));

test("re2: what RE2 refuses is refused, in its words", () => {
  for (const [p, why] of [["(?!admin)", /unsupported Perl syntax/], ["a{1001}", /invalid repeat count/], ["(a)\\1", /invalid escape sequence/], ["([", /missing closing/]] as const) {
    const c = compileRe2(p);
    assert.ok("error" in c, p);
    assert.match(c.error, why);
  }
  assert.ok(!("error" in compileRe2("a{1000}")), "1000 repeats is RE2's limit, allowed");
});

test("re2: linear time on input a backtracking engine would never finish", () => {
  // (a+)+$ against a long run of a's and one other character: exponential in a backtracking engine (JavaScript's
  // RegExp does not finish this in the lifetime of the test run), linear in RE2.
  const evil = `${"a".repeat(100_000)}!`;
  assert.equal(re("(a+)+$").matches(evil), false);
  assert.equal(re("(a|aa)*c").matches(evil), false);
  assert.equal(re("(x+x+)+y").matches("x".repeat(50_000)), false);
});

test("re2: rewrites every match, \\1 a group and $ a dollar, as Envoy's regex_rewrite", () => {
  assert.equal(re("/v1/(\\w+)").replaceAll("/v1/a/v1/b", "/v2/\\1"), "/v2/a/v2/b");
  assert.equal(re("^/price/([0-9]+)$").replaceAll("/price/5", "/cost/$\\1"), "/cost/$5");
});
