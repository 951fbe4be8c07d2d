import { test } from "node:test";
import assert from "node:assert/strict";
import { UnauthenticatedPool } from "./admission.js";

test("unauthenticated pool: at the per-source cap the source's oldest gives way; at the total cap the oldest of all", () => {
  const pool = new UnauthenticatedPool<string>(4, 2);
  assert.deepEqual(pool.admit("a", "a1").evicted, []);
  assert.deepEqual(pool.admit("a", "a2").evicted, []);
  assert.deepEqual(pool.admit("a", "a3").evicted, ["a1"], "a's third pushes out a's first");
  assert.equal(pool.of("a"), 2);
  const b1 = pool.admit("b", "b1");
  assert.deepEqual(b1.evicted, []);
  assert.deepEqual(pool.admit("b", "b2").evicted, []);
  assert.equal(pool.size, 4);
  assert.deepEqual(pool.admit("c", "c1").evicted, ["a2"], "full: the oldest of all gives way, whoever it is");
  assert.deepEqual([pool.size, pool.of("a"), pool.of("b"), pool.of("c")], [4, 1, 2, 1]);
  // Both caps at once: one from the source, and then the total has room.
  assert.deepEqual(pool.admit("b", "b3").evicted, ["b1"]);
  assert.equal(pool.size, 4);
});

test("unauthenticated pool: leaving (authenticated or closed) frees the place once, and never evicts anyone", () => {
  const pool = new UnauthenticatedPool<string>(2, 2);
  const x = pool.admit("a", "x");
  const y = pool.admit("a", "y");
  pool.leave(x.place);
  pool.leave(x.place);
  assert.deepEqual([pool.size, pool.of("a")], [1, 1]);
  assert.deepEqual(pool.admit("a", "z").evicted, [], "room again");
  assert.deepEqual(pool.admit("b", "w").evicted, ["y"]);
  pool.leave(y.place); // already evicted: nothing changes
  assert.deepEqual([pool.size, pool.of("a"), pool.of("b")], [2, 1, 1]);
  assert.equal(pool.of("nobody"), 0);
});
