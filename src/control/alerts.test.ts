import { test } from "node:test";
import assert from "node:assert/strict";
import { AlertLog, KEPT_ALERTS } from "./alerts.js";

const now = new Date(Date.UTC(2026, 10, 22));
const good = { host: "example.com", port: 80, protocol: "http", count: 2, reason: "REGISTRY_ONLY", policy: "Sidecar/istio-system/default", first: "2026-11-22T00:00:00.000Z", last: "2026-11-22T00:00:01.000Z" };

const cases: { name: string; report: unknown; hosts: string[] }[] = [
  { name: "a well-formed report", report: { destinations: [good], dropped: 0 }, hosts: ["example.com"] },
  { name: "no destinations field", report: { dropped: 0 }, hosts: [] },
  { name: "destinations not a list", report: { destinations: "example.com" }, hosts: [] },
  { name: "a destination without a host", report: { destinations: [{ ...good, host: undefined }, good] }, hosts: ["example.com"] },
  { name: "a port that is not a whole number", report: { destinations: [{ ...good, port: "80" }] }, hosts: [] },
  { name: "a count that is not a whole number", report: { destinations: [{ ...good, count: 1.5 }] }, hosts: [] },
  { name: "a count below one", report: { destinations: [{ ...good, count: 0 }, { ...good, count: -3 }] }, hosts: [] },
  { name: "a port out of range", report: { destinations: [{ ...good, port: 70000 }] }, hosts: [] },
  { name: "null entries", report: { destinations: [null, good] }, hosts: ["example.com"] },
  { name: "destinations the proxy dropped become one alert", report: { destinations: [], dropped: 7 }, hosts: ["*"] },
];

for (const c of cases) {
  test(`alerts: ${c.name}`, () => {
    const alerts = AlertLog.fromReport("a/client", c.report, now);
    assert.deepEqual(alerts.map((a) => a.host), c.hosts);
    for (const a of alerts) assert.equal(a.proxy, "a/client", "the proxy is the authenticated one, not what the report says");
  });
}

test("alerts: the log keeps the newest", () => {
  const log = new AlertLog();
  for (let i = 0; i < KEPT_ALERTS + 5; i++) log.add(AlertLog.fromReport("a/client", { destinations: [{ ...good, port: i }] }, now));
  const list = log.list();
  assert.equal(list.length, KEPT_ALERTS);
  assert.equal(list[0]!.port, 5);
  assert.equal(list.at(-1)!.port, KEPT_ALERTS + 4);
});
