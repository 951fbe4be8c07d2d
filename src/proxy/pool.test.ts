import { test } from "node:test";
import assert from "node:assert/strict";
import { Pools } from "./pool.js";

test("origination pools: one per host, port, SNI and root bundle; two bundles never share one, however many come and go", () => {
  const pools = new Pools();
  try {
    const bundle = (i: number) => `-----BEGIN CERTIFICATE-----\n${String(i).repeat(40)}\n-----END CERTIFICATE-----\n`;
    const a = pools.originate("api.example.com", 443, "api.example.com", bundle(1));
    assert.equal(pools.originate("api.example.com", 443, "api.example.com", bundle(1)), a, "the same bundle (an equal string) reuses the pool");
    assert.notEqual(pools.originate("api.example.com", 443, "api.example.com", bundle(2)), a, "another bundle verifies otherwise: its own pool");
    assert.notEqual(pools.originate("api.example.com", 443, "api.example.com", ""), a, "the system's roots: its own pool");
    assert.notEqual(pools.originate("api.example.com", 443, "other.example.com", bundle(1)), a, "another SNI: its own pool");
    assert.notEqual(pools.originate("api.example.com", 8443, "api.example.com", bundle(1)), a, "another port: its own pool");
    // Past the bounds of the memos (bundles are numbered, never renumbered), a bundle still gets no other's pool.
    const seen = new Map<unknown, number>();
    for (let i = 3; i < 60; i++) {
      const p = pools.originate("api.example.com", 443, "api.example.com", bundle(i));
      assert.equal(seen.has(p), false, `bundle ${i} was given bundle ${seen.get(p)}'s pool`);
      seen.set(p, i);
    }
    assert.notEqual(pools.originate("api.example.com", 443, "api.example.com", bundle(1)), pools.originate("api.example.com", 443, "api.example.com", bundle(2)));
  } finally {
    pools.destroy();
  }
});
