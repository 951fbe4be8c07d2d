import { test } from "node:test";
import assert from "node:assert/strict";
import { BoundedMap } from "./bounded-map.js";

test("a bounded map never holds more than its bound: full, a new key starts it again; an old key is only updated", () => {
  const m = new BoundedMap<string, number>(3);
  for (const k of ["a", "b", "c"]) m.set(k, 1);
  m.set("a", 2);
  assert.deepEqual([...m], [["a", 2], ["b", 1], ["c", 1]], "updating a key it holds keeps the rest");
  m.set("d", 1);
  assert.deepEqual([...m], [["d", 1]]);
  for (let i = 0; i < 100; i++) m.set(`k${i}`, i);
  assert.ok(m.size <= 3);
});
