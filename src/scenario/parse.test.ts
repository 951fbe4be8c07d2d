import { test } from "node:test";
import assert from "node:assert/strict";
import { ZmError } from "../api/errors.js";
import { parseScenario } from "./parse.js";

const parse = (text: string) => parseScenario(text, "/tmp/s.yaml", "/tmp", []);
const errorOf = (text: string) => {
  try {
    parse(text);
  } catch (e) {
    assert.ok(e instanceof ZmError);
    return e.message;
  }
  assert.fail("expected the scenario to be rejected");
};

const probe = (p: string) => `name: s\nsteps:\n- name: one\n  probes:\n  - name: p\n${p.replace(/^/gm, "    ")}`;

test("scenario: a valid probe parses into typed values", () => {
  const s = parse(probe(`from: default/tester\nurl: https://api.example.com:8443/x?y=1\nheaders: {Haha: hoho}\nca: external\nexpect: {status: [200, 301]}`));
  const p = s.steps[0]!.probes[0]!;
  assert.deepEqual(p.url, { scheme: "https", host: "api.example.com", port: 8443, path: "/x?y=1", raw: "https://api.example.com:8443/x?y=1" });
  assert.deepEqual(p.headers, { haha: "hoho" });
  assert.deepEqual(p.expect.status, [200, 301]);
  assert.equal(p.method, "GET");
});

const bad: [string, string, RegExp][] = [
  ["unknown expect error", `from: a/b\nurl: http://x/\nexpect: {error: boom}`, /s\.yaml#1 steps\[0\]\.probes\[0\]\.expect\.error: must be one of reset, refused, tls, timeout, got "boom"/],
  ["outside without via", `from: outside\nurl: http://x/\nexpect: {status: 200}`, /steps\[0\]\.probes\[0\]\.via: a probe from "outside" needs via/],
  ["bad via", `from: outside\nvia: gateway:80\nurl: http://x/\nexpect: {status: 200}`, /\.via: "gateway:80" must be namespace\/service:port/],
  ["bad scheme", `from: a/b\nurl: ftp://x/\nexpect: {status: 200}`, /\.url: scheme must be http, https or tcp, got "ftp"/],
  ["tcp without port", `from: a/b\nurl: tcp://x\nexpect: {echo: true}`, /\.url: a tcp:\/\/ URL needs a port/],
  ["unknown ca", `from: a/b\nurl: https://x/\nca: nope\nexpect: {status: 200}`, /steps\[0\]\.probes\[0\]\.ca: "nope" is neither a certificate nor a test CA/],
  ["error with status", `from: a/b\nurl: http://x/\nexpect: {status: 200, error: reset}`, /\.expect: error cannot be combined/],
  ["empty expect", `from: a/b\nurl: http://x/\nexpect: {}`, /\.expect: must expect something/],
  ["unknown probe field", `from: a/b\nurl: http://x/\ntimeout: 5\nexpect: {status: 200}`, /\.timeout: unknown field "timeout"/],
];
for (const [name, p, re] of bad) {
  test(`scenario rejects: ${name}`, () => assert.match(errorOf(probe(p)), re));
}

test("scenario rejects: no steps, unknown top-level field, missing include", () => {
  assert.match(errorOf("name: s\nsteps: []"), /steps: must have at least one step/);
  assert.match(errorOf("name: s\nstepz: []\nsteps: [{name: a, probes: []}]"), /stepz: unknown field "stepz"/);
  assert.match(errorOf("name: s\ninclude: [missing.yaml]\nsteps: [{name: a, probes: []}]"), /include\[0\]: cannot include "missing.yaml"/);
});
