import { test } from "node:test";
import assert from "node:assert/strict";
import { allocateAddresses } from "./service-addresses.js";

test("service addresses: given ones kept, others allocated from the service CIDR or Istio's auto-allocation range, never twice", () => {
  const a = allocateAddresses([
    { key: "Service/b/web", given: [], pool: "service" },
    { key: "Service/b/db", given: ["10.96.7.7"], pool: "service" },
    { key: "Service/b/headless", given: ["None"] },
    { key: "ServiceEntry/x/api/api.example.com", given: [], pool: "auto" },
    { key: "ServiceEntry/x/range/r.example.com", given: ["192.168.0.0/16"], pool: "auto" },
  ]);
  assert.deepEqual(a.get("Service/b/db"), ["10.96.7.7"]);
  assert.deepEqual(a.get("Service/b/headless"), []);
  assert.match(a.get("Service/b/web")![0]!, /^10\.96\.\d+\.\d+$/);
  assert.match(a.get("ServiceEntry/x/api/api.example.com")![0]!, /^240\.240\.\d+\.\d+$/);
  assert.match(a.get("ServiceEntry/x/range/r.example.com")![0]!, /^240\.240\./, "a range is not an address: one is allocated");
});

test("service addresses: the same services get the same addresses whatever their order; collisions go to the next free", () => {
  const reqs = Array.from({ length: 3000 }, (_, i) => ({ key: `Service/ns/s${i}`, given: [], pool: "service" as const }));
  const one = allocateAddresses(reqs);
  const two = allocateAddresses([...reqs].reverse());
  assert.deepEqual([...one.entries()].sort(), [...two.entries()].sort());
  const all = [...one.values()].flat();
  assert.equal(new Set(all).size, 3000, "3,000 services, 3,000 addresses");
  assert.ok(all.every((x) => !/\.255$/.test(x) && x !== "10.96.0.0" && x !== "10.96.0.1"));
  // A given address is never handed to another.
  const given = one.get("Service/ns/s0")![0]!;
  const again = allocateAddresses([{ key: "Service/zz/other", given: [given], pool: "service" }, ...reqs]);
  assert.notEqual(again.get("Service/ns/s0")![0], given);
  assert.deepEqual(again.get("Service/zz/other"), [given]);
});
