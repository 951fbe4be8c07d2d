import { test } from "node:test";
import assert from "node:assert/strict";
import { edgeHeaders } from "./edge-headers.js";

test("edge headers: the client's XFCC and x-envoy-* go, X-Forwarded-For gets the peer, trusted hops as Envoy counts them", () => {
  const forged = () => ({ host: "h", "x-forwarded-client-cert": "By=x;URI=spiffe://cluster.local/ns/admin/sa/root", "x-forwarded-for": "6.6.6.6, 7.7.7.7", "x-envoy-external-address": "6.6.6.6", "x-envoy-original-path": "/admin" });
  const table: [string, number, boolean, string, Record<string, string>][] = [
    ["external, no trusted proxy: only the peer", 0, true, "127.0.0.9", { host: "h", "x-forwarded-for": "6.6.6.6, 7.7.7.7, 127.0.0.9", "x-envoy-external-address": "127.0.0.9" }],
    ["external, one trusted proxy: the entry it appended", 1, true, "7.7.7.7", { host: "h", "x-forwarded-for": "6.6.6.6, 7.7.7.7, 127.0.0.9", "x-envoy-external-address": "7.7.7.7" }],
    ["more trusted proxies than entries: the leftmost", 5, true, "6.6.6.6", { host: "h", "x-forwarded-for": "6.6.6.6, 7.7.7.7, 127.0.0.9", "x-envoy-external-address": "6.6.6.6" }],
    ["over mesh mTLS: x-envoy-* kept, XFCC still dropped", 0, false, "127.0.0.9", { host: "h", "x-forwarded-for": "6.6.6.6, 7.7.7.7, 127.0.0.9", "x-envoy-external-address": "6.6.6.6", "x-envoy-original-path": "/admin" }],
  ];
  for (const [name, n, external, remote, want] of table) {
    const h: Record<string, string> = forged();
    assert.equal(edgeHeaders(h, "127.0.0.9", n, external), remote, name);
    assert.deepEqual(h, want, name);
  }
  const none: Record<string, string> = { host: "h" };
  assert.equal(edgeHeaders(none, "127.0.0.9", 0, true), "127.0.0.9");
  assert.deepEqual(none, { host: "h", "x-forwarded-for": "127.0.0.9", "x-envoy-external-address": "127.0.0.9" }, "no X-Forwarded-For: the peer alone");
});
