import { test } from "node:test";
import assert from "node:assert/strict";
import { IdleCache } from "./idle-cache.js";

/** A cache of named values over a clock the test moves; `busy` names the ones with requests in flight. */
function cache(max: number, busy = new Set<string>()) {
  let now = 0;
  const closed: string[] = [];
  const c = new IdleCache<string>({ idleMs: 60_000, max, busy: (v) => busy.has(v), close: (v) => void closed.push(v), now: () => now });
  return { c, closed, busy, at: (t: number) => void (now = t), get: (k: string) => c.get(k, () => k) };
}

test("idle cache: an entry unused for idleMs is closed, one used meanwhile is kept, a busy one is never closed", () => {
  const t = cache(100);
  t.get("a");
  t.get("b");
  t.get("c");
  t.busy.add("c");
  t.at(30_000);
  t.get("b");
  t.at(60_000);
  t.c.sweep();
  assert.deepEqual(t.closed, ["a"], "a was idle for 60 s; b was used at 30 s; c is busy");
  t.at(90_000);
  t.c.sweep();
  assert.deepEqual(t.closed, ["a", "b"]);
  assert.equal(t.c.size, 1);
  t.busy.delete("c");
  t.at(200_000);
  t.get("d");
  assert.deepEqual(t.closed, ["a", "b", "c"], "a get() sweeps too, once the interval has passed");
});

test("idle cache: beyond the cap the least recently used idle entries go at once, busy ones stay", () => {
  const t = cache(3);
  for (const k of ["a", "b", "c"]) t.get(k);
  t.get("a");
  t.busy.add("b");
  t.get("d");
  assert.deepEqual(t.closed, ["c"], "b is older but busy; c is the least recently used idle one");
  assert.equal(t.c.size, 3);
  t.get("e");
  assert.deepEqual(t.closed, ["c", "a"]);
  assert.equal(t.get("e"), "e", "a hit reuses the entry");
  assert.equal(t.c.size, 3);
});

test("idle cache: an entry that is no longer usable is replaced, and delete forgets only the value it names", () => {
  let n = 0;
  const dead = new Set<number>();
  const c = new IdleCache<number>({ idleMs: 1000, max: 10, busy: () => false, close: () => {}, now: () => 0 });
  const get = () => c.get("k", () => ++n, (v) => !dead.has(v));
  assert.equal(get(), 1);
  dead.add(1);
  assert.equal(get(), 2);
  c.delete("k", 1);
  assert.equal(c.size, 1);
  c.delete("k", 2);
  assert.equal(c.size, 0);
});
