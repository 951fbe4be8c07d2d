import assert from "node:assert/strict";
import { test } from "node:test";
import { DenialCounter, MAX_DENIALS } from "../proxy/denials.js";
import { DenialLog, KEPT_DENIALS } from "./denials.js";
import type { Decision } from "../policy/decision.js";

const denied: Decision = { allow: false, outcome: { kind: "response", status: 403, body: "RBAC: access denied" }, reason: "DENY policy matched rule 0", code: "ZM_DENY_AUTHZ", policy: "AuthorizationPolicy/b/no-admin", rule: "rules[0]", trail: [{ stage: "authz", at: "sidecar b/web", message: "denied", policy: "AuthorizationPolicy/b/no-admin", rule: "rules[0]" }] };
const req = { method: "GET", host: "web.b", port: 8080, path: "/admin" };

test("denials: counted per kind with one example and the trail; allowed requests are not; the count is bounded", () => {
  const c = new DenialCounter();
  c.add("inbound", req, denied, "spiffe://cluster.local/ns/a/sa/client", new Date(0));
  c.add("inbound", { ...req, path: "/admin/2" }, denied, "spiffe://cluster.local/ns/a/sa/client", new Date(1000));
  c.add("inbound", req, { ...denied, allow: true }, undefined, new Date(0));
  const taken = c.take()!;
  assert.equal(taken.denials.length, 1);
  assert.deepEqual([taken.denials[0]!.count, taken.denials[0]!.path, taken.denials[0]!.answer, taken.denials[0]!.first, taken.denials[0]!.last], [2, "/admin", "HTTP 403", new Date(0).toISOString(), new Date(1000).toISOString()]);
  assert.equal(c.take(), undefined, "taken means gone");
  for (let i = 0; i < MAX_DENIALS + 5; i++) c.add("inbound", req, denied, `peer-${i}`, new Date(0));
  assert.deepEqual([c.take()!.denials.length, MAX_DENIALS], [MAX_DENIALS, MAX_DENIALS]);
});

test("denials: the control plane keeps only well-formed reports, clipped, and the newest", () => {
  const c = new DenialCounter();
  c.add("inbound", req, denied, "spiffe://cluster.local/ns/a/sa/client", new Date(0));
  const good = c.take()!;
  const now = new Date(5000);
  const kept = DenialLog.fromReport("b/web", { denials: [...good.denials, { ...good.denials[0], port: 99999 }, { ...good.denials[0], count: 0 }, "junk", { ...good.denials[0], reason: "x".repeat(5000) }] }, now);
  assert.equal(kept.length, 2);
  assert.equal(kept[0]!.policy, "AuthorizationPolicy/b/no-admin");
  assert.equal(kept[0]!.trail[0]!.stage, "authz");
  assert.equal(kept[1]!.reason.length, 400);
  assert.deepEqual(DenialLog.fromReport("b/web", { denials: "nope" }, now), []);
  const log = new DenialLog();
  for (let i = 0; i < KEPT_DENIALS + 3; i++) log.add([{ ...kept[0]!, count: i + 1 }]);
  assert.deepEqual([log.list().length, log.list()[0]!.count], [KEPT_DENIALS, KEPT_DENIALS + 3], "newest first, bounded");
});
