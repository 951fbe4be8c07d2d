import { test } from "node:test";
import assert from "node:assert/strict";
import { BlockedEgressCounter, MAX_DESTINATIONS } from "./blocked-egress.js";

const d = { reason: "example.com is not in the registry and meshConfig.outboundTrafficPolicy is REGISTRY_ONLY", policy: "meshConfig.outboundTrafficPolicy" };
const at = (s: number) => new Date(Date.UTC(2026, 10, 22, 0, 0, s));

test("blocked egress: counted per destination and protocol between reports, first and last seen kept", () => {
  const c = new BlockedEgressCounter();
  assert.equal(c.take(), undefined, "nothing blocked: nothing to report");
  c.add("example.com", 80, "http", d, at(1));
  c.add("example.com", 80, "http", d, at(2));
  c.add("example.com", 443, "tls", d, at(3));
  c.add("example.com", 80, "http", d, at(4));
  assert.deepEqual(c.take(), {
    dropped: 0,
    destinations: [
      { host: "example.com", port: 80, protocol: "http", count: 3, reason: d.reason, policy: d.policy, first: at(1).toISOString(), last: at(4).toISOString() },
      { host: "example.com", port: 443, protocol: "tls", count: 1, reason: d.reason, policy: d.policy, first: at(3).toISOString(), last: at(3).toISOString() },
    ],
  });
  assert.equal(c.take(), undefined, "a report starts the count again");
});

test("blocked egress: a scan of many destinations is bounded; the rest are counted as dropped", () => {
  const c = new BlockedEgressCounter();
  for (let i = 0; i < MAX_DESTINATIONS + 10; i++) c.add(`h${i}.example`, 80, "http", d, at(0));
  c.add("h0.example", 80, "http", d, at(1)); // a known destination still counts
  const r = c.take()!;
  assert.equal(r.destinations.length, MAX_DESTINATIONS);
  assert.equal(r.dropped, 10);
  assert.equal(r.destinations[0]!.count, 2);
});
