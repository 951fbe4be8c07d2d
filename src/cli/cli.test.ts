// The CLI as a user runs it: a real process, real files, exit codes and output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";

const BIN = join(PROJECT_ROOT, "dist", "cli", "main.js");
const zeromesh = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", cwd: PROJECT_ROOT });
const DEMO = join(PROJECT_ROOT, "examples", "demo", "config.yaml");

test("cli: validate accepts the demo config", () => {
  const r = zeromesh("validate", "-f", DEMO);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^valid: \d+ resources/);
});

test("cli: validate prints every error with file, document and field, and exits 1", () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-cli-"));
  const f = join(dir, "gateway.yaml");
  writeFileSync(f, `apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: a}\nspec:\n  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: SIMPLES, credentialName: c}\n`);
  const r = spawnSync(process.execPath, [BIN, "validate", "-f", "gateway.yaml"], { encoding: "utf8", cwd: dir });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^gateway\.yaml#2 Gateway\/a\/g spec\.servers\[0\]\.tls\.mode: must be one of PASSTHROUGH, SIMPLE, MUTUAL/m);
  assert.match(r.stderr, /1 error; nothing would be applied/);
});

test("cli: check explains a denial in words and exits 1", () => {
  const r = zeromesh("check", "-f", DEMO, "--from", "shop/web", "--to", "http://backend.shop:9000/admin");
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^DENIED: HTTP 403/);
  assert.match(r.stdout, /decided by: AuthorizationPolicy\/shop\//);
  assert.match(r.stdout, /\[sidecar-scope\] sidecar shop\/web: Sidecar\/shop\/web selects the workload's labels/);
  assert.match(r.stdout, /\[peer-authn\] .*STRICT/);
});

test("cli: check -o json gives the decision value", () => {
  const r = zeromesh("check", "-f", DEMO, "--from", "shop/web", "--to", "http://backend.shop:9000/api/orders", "-o", "json");
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal(d.allow, true);
  assert.deepEqual([d.outcome.kind, d.outcome.status], ["response", 200]);
  assert.ok(d.trail.some((s: { stage: string; rule?: string }) => s.stage === "authz" && s.rule === "rules[0]"));
});

test("cli: check from outside through the gateway, and usage errors", () => {
  const r = zeromesh("check", "-f", DEMO, "--from", "outside", "--via", "istio-system/istio-ingressgateway:80", "--to", "http://shop.example.com/");
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ALLOWED: HTTP 200/);
  const missing = zeromesh("check", "-f", DEMO, "--from", "shop/nobody", "--to", "http://backend.shop:9000/");
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no workload "shop\/nobody".*\[ZM_NOT_FOUND\]/);
  assert.equal(zeromesh("check", "--bogus").status, 2);
});

test("cli: test --static over the project's scenarios ends with the summary line", () => {
  const r = zeromesh("test", "--static", join(PROJECT_ROOT, "examples", "scenarios"), join(PROJECT_ROOT, "test", "scenarios"));
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout.trimEnd().split("\n").at(-1)!, /^\d+ passed, 0 failed$/);
});

const SEEDS = join(PROJECT_ROOT, "..", "shared", "scenarios", "seeds");
// A user's clone has no ../shared; CI and developers have it.
if (existsSync(SEEDS)) test("cli: test --static passes every seed scenario", () => {
  const r = zeromesh("test", "--static", SEEDS);
  assert.equal(r.status, 0, r.stdout);
  const last = r.stdout.trimEnd().split("\n").at(-1)!;
  assert.match(last, /^[1-9]\d* passed, 0 failed$/);
});

test("cli: an invalid scenario file is reported and fails the run", () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-scn-"));
  writeFileSync(join(dir, "bad.yaml"), "name: bad\nsteps:\n- name: s\n  probes:\n  - {name: p, from: a/b, url: http://x/, expect: {error: kaboom}}\n");
  const r = zeromesh("test", "--static", dir);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /INVALID .*bad\.yaml/);
  assert.match(r.stdout, /expect\.error: must be one of reset, refused, tls, timeout/);
});
