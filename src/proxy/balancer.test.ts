import { test } from "node:test";
import assert from "node:assert/strict";
import { Balancer } from "./balancer.js";

const EPS = ["a:80", "b:80", "c:80"];
/** Draws the given numbers in turn (a fixed "random" for pure logic). */
const draws = (...xs: number[]) => () => xs.shift() ?? 0;

test("balancer: round robin walks the endpoints, per service port", () => {
  const b = new Balancer();
  assert.deepEqual([0, 1, 2, 3].map(() => b.pick(EPS, "svc:80", "ROUND_ROBIN")), [0, 1, 2, 0]);
  assert.equal(b.pick(EPS, "other:80", "ROUND_ROBIN"), 0);
});

test("balancer: random takes the drawn endpoint", () => {
  assert.equal(new Balancer(draws(0.7)).pick(EPS, "svc:80", "RANDOM"), 2);
});

test("balancer: least request takes the less busy of two drawn endpoints, and the first on a tie", () => {
  const b = new Balancer(draws(0, 0.6, 0, 0.6));
  const a = b.enter("a:80");
  assert.equal(b.pick(EPS, "svc:80", "LEAST_REQUEST"), 2, "a (busy) against c (idle): c");
  b.leave("a:80", a);
  assert.equal(b.pick(EPS, "svc:80", "LEAST_REQUEST"), 0, "both idle: the first drawn");
});

test("balancer: the two draws are distinct endpoints", () => {
  // The first draw is c; the second draws among the other two only (here b).
  const b = new Balancer(draws(0.99, 0.99));
  b.enter("c:80");
  assert.equal(b.pick(EPS, "svc:80", "LEAST_REQUEST"), 1);
});

test("balancer: in-flight counts go up per request and down per end", () => {
  const b = new Balancer();
  const one = b.enter("a:80");
  const two = b.enter("a:80");
  assert.equal(one, two, "one record per name");
  assert.equal(b.load("a:80"), 2);
  b.leave("a:80", one);
  assert.equal(b.load("a:80"), 1);
  b.leave("a:80", two);
  assert.equal(b.load("a:80"), 0);
  assert.equal(new Balancer().pick(["only:80"], "svc:80", "LEAST_REQUEST"), 0);
});

test("balancer: counts of names no longer busy are forgotten once many are kept, and busy ones never are", () => {
  const b = new Balancer();
  const busy = [b.enter("busy:80"), b.enter("svc:80")] as const;
  for (let i = 0; i < 10_000; i++) {
    const [e, k] = [b.enter(`e${i}:80`), b.enter("svc:80")];
    b.leave(`e${i}:80`, e);
    b.leave("svc:80", k);
  }
  const kept = (b as unknown as { inflight: Map<string, unknown> }).inflight.size;
  assert.ok(kept <= 4097 + 2, `${kept} counts kept`);
  assert.equal(b.load("busy:80"), 1);
  assert.equal(b.load("svc:80"), 1, "the service port still counts the busy request");
  assert.equal(b.load("e9999:80"), 0);
  b.leave("busy:80", busy[0]);
  b.leave("svc:80", busy[1]);
  assert.equal(b.load("busy:80"), 0);
  assert.equal(b.load("svc:80"), 0);
});

const OD = { consecutive5xxErrors: 3, consecutiveGatewayErrors: 0, baseEjectionTimeMs: 1000, maxEjectionPercent: 100 };
/** A clock the test moves. */
const clock = () => {
  let t = 0;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
};

const ejectionCases: { name: string; od?: Partial<typeof OD>; answers: number[]; ejected: boolean }[] = [
  { name: "three consecutive 5xx eject", answers: [500, 503, 500], ejected: true },
  { name: "connect failures and resets count as 5xx", answers: [0, 0, 0], ejected: true },
  { name: "a success in between starts the count again", answers: [500, 500, 200, 500, 500], ejected: false },
  { name: "4xx answers are not errors", answers: [404, 403, 429], ejected: false },
  { name: "consecutive5xxErrors 0 disables it", od: { consecutive5xxErrors: 0 }, answers: [500, 500, 500, 500], ejected: false },
  { name: "gateway errors alone: 502/503/504 and no answer count", od: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 }, answers: [502, 0], ejected: true },
  { name: "… a 500 breaks a run of gateway errors", od: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 }, answers: [503, 500, 503], ejected: false },
];

for (const c of ejectionCases) {
  test(`balancer outlier detection: ${c.name}`, () => {
    const b = new Balancer(Math.random, clock().now);
    for (const s of c.answers) b.report("a:80", "svc:80", s, { ...OD, ...c.od }, 3);
    assert.equal(b.ejected("a:80"), c.ejected);
  });
}

test("balancer outlier detection: an ejected endpoint sits out for baseEjectionTime × times ejected, then serves again", () => {
  const c = clock();
  const b = new Balancer(draws(0, 0, 0, 0, 0, 0, 0, 0), c.now);
  for (let i = 0; i < 3; i++) b.report("a:80", "svc:80", 500, OD, 3);
  assert.deepEqual([0, 1, 2, 3].map(() => b.pick(EPS, "svc:80", "ROUND_ROBIN")), [1, 2, 1, 2], "a is skipped");
  assert.notEqual(b.pick(EPS, "svc:80", "RANDOM"), 0);
  assert.notEqual(b.pick(EPS, "svc:80", "LEAST_REQUEST"), 0);
  c.advance(1000);
  assert.equal(b.ejected("a:80"), false, "back after the base ejection time");
  for (let i = 0; i < 3; i++) b.report("a:80", "svc:80", 500, OD, 3);
  c.advance(1999);
  assert.equal(b.ejected("a:80"), true, "the second ejection lasts twice as long");
  c.advance(1);
  assert.equal(b.ejected("a:80"), false);
});

test("balancer outlier detection: maxEjectionPercent caps ejections per service; all ejected means all serve", () => {
  const b = new Balancer(Math.random, clock().now);
  const od = { ...OD, maxEjectionPercent: 30 };
  for (const ep of ["a:80", "b:80"]) for (let i = 0; i < 3; i++) b.report(ep, "svc:80", 500, od, 3);
  assert.deepEqual([b.ejected("a:80"), b.ejected("b:80")], [true, false], "one of three ejected is 33%, at or over 30%: no second (Envoy checks the share before ejecting)");
  for (let i = 0; i < 3; i++) b.report("x:80", "other:80", 500, od, 3);
  assert.equal(b.ejected("x:80"), true, "another service has its own share");

  const all = new Balancer(Math.random, clock().now);
  for (const ep of ["a:80", "b:80"]) for (let i = 0; i < 3; i++) all.report(ep, "svc:80", 500, OD, 2);
  assert.deepEqual([0, 1, 2, 3].map(() => all.pick(["a:80", "b:80"], "svc:80", "ROUND_ROBIN")), [0, 1, 0, 1], "panic: every endpoint ejected, so all serve");
});
