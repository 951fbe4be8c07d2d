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
  const done = b.begin("a:80");
  assert.equal(b.pick(EPS, "svc:80", "LEAST_REQUEST"), 2, "a (busy) against c (idle): c");
  done();
  assert.equal(b.pick(EPS, "svc:80", "LEAST_REQUEST"), 0, "both idle: the first drawn");
});

test("balancer: the two draws are distinct endpoints", () => {
  // The first draw is c; the second draws among the other two only (here b).
  const b = new Balancer(draws(0.99, 0.99));
  b.begin("c:80");
  assert.equal(b.pick(EPS, "svc:80", "LEAST_REQUEST"), 1);
});

test("balancer: in-flight counts go up per request and down once per end", () => {
  const b = new Balancer();
  const end1 = b.begin("a:80");
  const end2 = b.begin("a:80");
  assert.equal(b.load("a:80"), 2);
  end1();
  end1();
  assert.equal(b.load("a:80"), 1, "ending twice counts once");
  end2();
  assert.equal(b.load("a:80"), 0);
  assert.equal(new Balancer().pick(["only:80"], "svc:80", "LEAST_REQUEST"), 0);
});
