// A route's fault delay, timeout and retries: handed to the live proxy in hop
// mode, and added up by the static engine against the stand-in's /delay/N.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "../registry/registry.js";
import { check, meshYaml, outcomeOf, req, snapshotOf } from "../testing/helpers.js";
import { decideOutbound } from "./engine.js";
import { DEFAULT_HTTP_ROUTE, firstExpired } from "./route-timing.js";
import { defaultWorld } from "./world.js";

const vs = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: b}
spec:
  hosts: [web.b.svc.cluster.local]
  http:
${http}`;

const mesh = (http: string) => snapshotOf([meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]), vs(http)].join("\n---\n"));

test("hop: the route's timeout, retries and drawn fault delay travel with the forward outcome", () => {
  const snap = mesh(`  - timeout: 500ms
    retries: {attempts: 3, perTryTimeout: 200ms, retryOn: "5xx,409"}
    fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
    route: [{destination: {host: web.b.svc.cluster.local}}]`);
  const client = Registry.of(snap).instancesOf("a/client")[0]!;
  const d = decideOutbound({ snapshot: snap, world: defaultWorld() }, client, req("http://web.b:8080/"));
  assert.equal(d.outcome.kind, "forward");
  assert.deepEqual(d.outcome.kind === "forward" && d.outcome.http, {
    timeoutMs: 500, delayMs: 1000,
    retries: { attempts: 3, perTryTimeoutMs: 200, on: ["5xx", "retriable-status-codes"], statusCodes: [409] },
  });
});

test("hop: a fault below 100% is drawn by the live proxy, and never applied statically", () => {
  const snap = mesh(`  - fault: {delay: {fixedDelay: 2s, percentage: {value: 50}}}
    route: [{destination: {host: web.b.svc.cluster.local}}]`);
  const client = Registry.of(snap).instancesOf("a/client")[0]!;
  const draw = (hit: boolean) => decideOutbound({ snapshot: snap, world: defaultWorld(), chance: () => hit }, client, req("http://web.b:8080/"));
  const o = (hit: boolean) => { const x = draw(hit).outcome; return x.kind === "forward" ? x.http?.delayMs : "not forwarded"; };
  assert.equal(o(true), 2000);
  assert.equal(o(false), undefined);
  assert.equal(outcomeOf(check(snap, "a/client", "http://web.b:8080/delay/1")), 200);
});

test("hop: plain HTTP without a VirtualService gets Istio's default retries, TCP none", () => {
  const snap = snapshotOf(meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]));
  const client = Registry.of(snap).instancesOf("a/client")[0]!;
  const d = decideOutbound({ snapshot: snap, world: defaultWorld() }, client, req("http://web.b:8080/"));
  assert.deepEqual(d.outcome.kind === "forward" && d.outcome.http, DEFAULT_HTTP_ROUTE);
});

const cases: { name: string; http: string; path: string; want: number; reason?: RegExp }[] = [
  { name: "answer within the timeout", http: "timeout: 2s", path: "/delay/1", want: 200 },
  { name: "answer after the timeout", http: "timeout: 500ms", path: "/delay/1", want: 504, reason: /timeout of 500ms expired/ },
  { name: "per-try timeout shorter than the answer", http: "retries: {attempts: 2, perTryTimeout: 300ms}", path: "/delay/0.5", want: 504, reason: /per-try timeout of 300ms/ },
  { name: "fault delay before the router does not count against its own timeout", http: "timeout: 1s\n    fault: {delay: {fixedDelay: 3s}}", path: "/", want: 200 },
  { name: "no timeout: Istio waits", http: "fault: {delay: {fixedDelay: 3s}}", path: "/delay/5", want: 200 },
];

for (const c of cases) {
  test(`static: ${c.name}`, () => {
    const snap = mesh(`  - ${c.http}\n    route: [{destination: {host: web.b.svc.cluster.local}}]`);
    const d = check(snap, "a/client", `http://web.b:8080${c.path}`);
    assert.equal(outcomeOf(d), c.want, d.reason);
    if (c.reason) assert.match(d.reason, c.reason);
  });
}

test("firstExpired: the earliest deadline wins", () => {
  const timers = [
    { startMs: 0, timeoutMs: 900, at: "a", kind: "timeout" as const },
    { startMs: 200, timeoutMs: 300, at: "b", kind: "timeout" as const },
  ];
  assert.equal(firstExpired({ elapsedMs: 0, timers }, 1000)?.at, "b");
  assert.equal(firstExpired({ elapsedMs: 0, timers }, 450), undefined);
});
