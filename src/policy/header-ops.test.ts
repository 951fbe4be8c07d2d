import { test } from "node:test";
import assert from "node:assert/strict";
import type { HeaderOperations } from "../api/types.js";
import { applyHeaderOps, describeHeaderOps, headerOpsFor } from "./header-ops.js";

const op = (o: Partial<HeaderOperations>): HeaderOperations => ({ set: {}, add: {}, remove: [], ...o });

const cases: { name: string; headers: Record<string, string | string[]>; ops: HeaderOperations[]; want: Record<string, string | string[]> }[] = [
  { name: "set creates", headers: {}, ops: [op({ set: { "x-a": "1" } })], want: { "x-a": "1" } },
  { name: "set overwrites", headers: { "x-a": "0" }, ops: [op({ set: { "x-a": "1" } })], want: { "x-a": "1" } },
  { name: "add creates", headers: {}, ops: [op({ add: { "x-a": "1" } })], want: { "x-a": "1" } },
  { name: "add appends to a value", headers: { "x-a": "0" }, ops: [op({ add: { "x-a": "1" } })], want: { "x-a": "0,1" } },
  { name: "add appends to a list (set-cookie)", headers: { "set-cookie": ["a=1"] }, ops: [op({ add: { "set-cookie": "b=2" } })], want: { "set-cookie": ["a=1", "b=2"] } },
  { name: "remove deletes", headers: { "x-a": "0", "x-b": "1" }, ops: [op({ remove: ["x-a"] })], want: { "x-b": "1" } },
  { name: "remove before set and add in one operation", headers: { "x-a": "0" }, ops: [op({ remove: ["x-a"], add: { "x-a": "1" } })], want: { "x-a": "1" } },
  { name: "a later operation sees an earlier one's result", headers: {}, ops: [op({ set: { "x-a": "dest" } }), op({ add: { "x-a": "route" } })], want: { "x-a": "dest,route" } },
];

for (const c of cases) {
  test(`header-ops: ${c.name}`, () => {
    const before = JSON.stringify(c.headers);
    assert.deepEqual(applyHeaderOps(c.headers, c.ops), c.want);
    assert.equal(JSON.stringify(c.headers), before, "the input is not changed");
  });
}

test("header-ops: the destination's operations come before the route's, per direction", () => {
  const dest = { request: op({ set: { d: "1" } }), response: op({ remove: ["x"] }) };
  const route = { request: op({ set: { r: "1" } }) };
  assert.deepEqual(headerOpsFor("request", dest, route), [dest.request, route.request]);
  assert.deepEqual(headerOpsFor("response", dest, route), [dest.response]);
  assert.deepEqual(headerOpsFor("response", undefined, undefined), []);
  assert.equal(describeHeaderOps([op({ set: { a: "1" }, remove: ["b"] })]), "set a; remove b");
});
