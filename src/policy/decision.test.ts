import { test } from "node:test";
import assert from "node:assert/strict";
import { Trail, type TrailStep } from "./decision.js";
import { liveWorld } from "./world.js";

const step = (message: string): TrailStep => ({ stage: "route", at: "sidecar a/b", message });

test("deferred steps are made when the trail is first read, in the order they were added, and only once", () => {
  const trail = new Trail();
  let made = 0;
  trail.add(step("first"));
  trail.add(() => (made++, step("second")));
  trail.add(() => (made++, [step("third"), step("fourth")]));
  const d = trail.allow({ kind: "echo" }, "delivered");
  assert.equal(made, 0, "nothing is made before someone reads the trail");
  assert.deepEqual(d.trail.map((s) => s.message), ["first", "second", "third", "fourth"]);
  assert.deepEqual(d.trail.map((s) => s.message), ["first", "second", "third", "fourth"]);
  assert.equal(made, 2);
});

test("a step added after the decision was made still shows in its trail, as before; a trail handed out only ever holds steps", () => {
  const trail = new Trail();
  trail.add(() => step("first"));
  const d = trail.deny({ kind: "error", error: "reset" }, "denied", "ZM_DENY_AUTHZ");
  const kept = d.trail;
  trail.add(() => step("later"));
  trail.add(step("last"));
  assert.ok(kept.every((s) => typeof s === "object"), "no function sits in an array someone holds");
  assert.deepEqual(d.trail.map((s) => s.message), ["first", "later", "last"]);
});

test("a decision serializes with its trail and every field, deferred steps made", () => {
  const trail = new Trail();
  trail.add(() => step("why"));
  const d = trail.end({ kind: "response", status: 404, body: "" }, "no route", "ZM_NO_ROUTE", "VirtualService/a/b", "http[0]");
  assert.deepEqual(JSON.parse(JSON.stringify(d)), {
    allow: false, outcome: { kind: "response", status: 404, body: "" }, reason: "no route", code: "ZM_NO_ROUTE", policy: "VirtualService/a/b", rule: "http[0]",
    trail: [{ stage: "route", at: "sidecar a/b", message: "why" }],
  });
});

test("a live proxy's world reads the time when asked", async () => {
  const a = liveWorld.now.getTime();
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(liveWorld.now.getTime() > a);
});
