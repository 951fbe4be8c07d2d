// Table tests for Istio's pathNormalization modes (Istio's security best practices, Envoy's normalize_path,
// merge_slashes and path_with_escaped_slashes_action).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PathNormalization } from "../api/mesh.js";
import { normalizeLongWay, normalizePath, splitAbsoluteForm } from "./path-normalization.js";

const CASES: [string, PathNormalization, string][] = [
  // Istio's examples
  ["/a/../b", "BASE", "/b"],
  ["\\da", "BASE", "error"],
  ["/\\da", "BASE", "//da"],
  ["/a//b", "MERGE_SLASHES", "/a/b"],
  ["/a%2fb", "DECODE_AND_MERGE_SLASHES", "/a/b"],
  ["/x/../%2Fa/../b", "NONE", "/x/../%2Fa/../b"],
  // dot segments, plain and escaped, and backslashes: the bypasses of a DENY on /admin*
  ["/x/../admin", "BASE", "/admin"],
  ["/./admin", "BASE", "/admin"],
  ["/../admin", "BASE", "/admin"],
  ["/%2e%2e/admin", "BASE", "/admin"],
  ["/%2E/admin", "BASE", "/admin"],
  ["/x/..\\admin", "BASE", "/admin"],
  ["/x/%2e%2e%5cadmin", "BASE", "/x/..%5cadmin"],
  ["/x/%2e%2e%5cadmin", "DECODE_AND_MERGE_SLASHES", "/admin"],
  ["/public/../admin", "BASE", "/admin"],
  ["/%61dmin", "BASE", "/admin"],
  ["/a/b/..", "BASE", "/a/"],
  ["/a/b/.", "BASE", "/a/b/"],
  ["/a..b/c", "BASE", "/a..b/c"],
  ["/a%2e%2e", "BASE", "/a.."],
  // what BASE keeps: doubled slashes and escaped slashes
  ["//admin", "BASE", "//admin"],
  ["//admin", "MERGE_SLASHES", "/admin"],
  ["/a/..//admin", "MERGE_SLASHES", "/admin"],
  ["/a%2Fb", "BASE", "/a%2Fb"],
  ["/a%2Fb", "MERGE_SLASHES", "/a%2Fb"],
  ["/a%5Cb", "DECODE_AND_MERGE_SLASHES", "/a/b"],
  // the query is never touched; a fragment is dropped
  ["/a/../b?next=/../admin", "BASE", "/b?next=/../admin"],
  ["/admin#x", "BASE", "/admin"],
  ["/x?y#z", "NONE", "/x?y"],
  // escapes that are not unreserved stay; characters that must be escaped are
  ["/caf%C3%A9", "BASE", "/caf%C3%A9"],
  // a raw UTF-8 "é" on the wire reaches the proxy as two latin1 characters: escaped byte for byte
  ["/a\u00c3\u00a9", "BASE", "/a%C3%A9"],
  ["/a\u20ac", "BASE", "/a%E2%82%AC"],
  ["/%zz/../b", "BASE", "/b"],
  // found by mutation testing: only "%" starts an escape; U+00FF is one latin1 byte
  ["/41/a%7Ez", "BASE", "/41/a~z"],
  ["/\u00ff", "BASE", "/%FF"],
  // not a path
  ["*", "BASE", "error"],
  ["admin", "NONE", "error"],
];

test("path normalization: each mode as Istio and Envoy define it", () => {
  for (const [input, mode, want] of CASES) {
    const r = normalizePath(input, mode);
    assert.equal("error" in r ? "error" : r.path, want, `${mode} ${JSON.stringify(input)}`);
  }
});

test("path normalization: normalizing twice changes nothing", () => {
  for (const [input, mode] of CASES) {
    const once = normalizePath(input, mode);
    if ("error" in once) continue;
    assert.deepEqual(normalizePath(once.path, mode), once, `${mode} ${JSON.stringify(input)}`);
  }
});

test("absolute-form targets give their authority and path", () => {
  assert.deepEqual(splitAbsoluteForm("http://evil/admin"), { authority: "evil", target: "/admin" });
  assert.deepEqual(splitAbsoluteForm("http://user@evil.example.com:8080"), { authority: "evil.example.com:8080", target: "/" });
  assert.deepEqual(splitAbsoluteForm("HTTPS://h/x/../y?q"), { authority: "h", target: "/x/../y?q" });
  assert.equal(splitAbsoluteForm("/admin"), undefined);
  // An absolute URL in the query is not the target's.
  assert.equal(splitAbsoluteForm("/r?next=http://evil.example.com/x"), undefined);
});

test("path normalization: the one-pass check for a normal target never disagrees with the long way", () => {
  // Random targets over the characters every rule looks at, in every mode (a seeded generator: the same cases each run).
  const alphabet = ["/", "/", ".", "a", "%", "2", "f", "F", "?", "#", "\\", " ", "<", "~", "é", "//", "/.", "/.."];
  let seed = 7;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let i = 0; i < 20_000; i++) {
    let t = "/";
    for (let k = next(9); k > 0; k--) t += alphabet[next(alphabet.length)]!;
    for (const mode of ["NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"] as const) {
      assert.deepEqual(normalizePath(t, mode), normalizeLongWay(t, mode), `${mode} ${JSON.stringify(t)}`);
    }
  }
});

test("absolute-form targets: what is not one", () => {
  for (const t of ["1http://h/", "://h/", "ht tp://h/", "http:/h/", "*", "", "h:80"]) assert.equal(splitAbsoluteForm(t), undefined, JSON.stringify(t));
  assert.deepEqual(splitAbsoluteForm("a+b-c.d://h?x"), { authority: "h", target: "/?x" });
  assert.deepEqual(splitAbsoluteForm("http://a@b@c/p#f"), { authority: "b@c", target: "/p#f" });
  assert.deepEqual(splitAbsoluteForm("http://h"), { authority: "h", target: "/" });
  assert.deepEqual(splitAbsoluteForm("http:///p"), { authority: "", target: "/p" });
  for (const br of ["\n", "\r", "\u2028", "\u2029"]) assert.equal(splitAbsoluteForm(`http://h/a${br}b`), undefined, JSON.stringify(br));
});
