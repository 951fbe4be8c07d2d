// The CLI as a user runs it: a real process, real files, exit codes and output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";

const BIN = join(PROJECT_ROOT, "dist", "cli", "main.js");
const zeromesh = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", cwd: PROJECT_ROOT });
const DEMO = join(PROJECT_ROOT, "examples", "demo", "config.yaml");

/**
 * What a failed `zeromesh test` run says went wrong: from its first failure on, at most a few KB. With the whole
 * output (every PASS line) as the message, a failure here left Node 20's test runner spinning after the test
 * (seen three times, not every time).
 */
const failures = (stdout: string): string => {
  const at = stdout.search(/^(FAIL|INVALID) /m);
  return at < 0 ? stdout.slice(-4000) : stdout.slice(at, at + 4000);
};

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

test("cli: every command answers --help with its usage (exit 0, nothing run); --version names the version", () => {
  const commands = ["validate", "check", "test", "up", "proxy", "app", "run", "exec", "node", "node-token", "nodes", "gateway", "proxy-status", "proxy-config", "alerts", "metrics", "apply", "delete", "get", "demo", "dashboard", "analyze"];
  for (const c of commands) {
    const r = zeromesh(c, "--help");
    assert.equal(r.status, 0, `${c}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: zeromesh ${c}\\b`), c);
  }
  // After "--" the flag is the command's to run, not ours.
  assert.notEqual(zeromesh("run", "--admin", "127.0.0.1:1", "--namespace", "a", "--name", "b", "--", "true", "--help").stdout.startsWith("usage:"), true);
  const v = zeromesh("--version");
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^zeromesh \d+\.\d+\.\d+/);
});

test("cli: user errors get their words and an exit code, never a stack trace", async () => {
  const noStack = (r: { stderr: string }) => assert.doesNotMatch(r.stderr, /^\s+at /m, r.stderr);
  const missing = zeromesh("test", "/nonexistent/scenarios");
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /\/nonexistent\/scenarios: no such file or directory/);
  noStack(missing);
  const dir = mkdtempSync(join(tmpdir(), "zm-cli-"));
  const noConfig = zeromesh("up", "--loopback", "--state-dir", dir, "--config", join(dir, "nope"));
  assert.equal(noConfig.status, 2);
  assert.match(noConfig.stderr, /--config .*nope: no such directory/);
  assert.equal(existsSync(join(dir, "nope")), false, "nothing was made in its place");
  // A port another program holds: the second `up` says so and exits, leaving nothing running.
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
  const port = (taken.address() as AddressInfo).port;
  const busy = spawnSync(process.execPath, [BIN, "up", "--loopback", "--state-dir", dir, "--port", String(port), "--admin-port", "0"], { encoding: "utf8", timeout: 30_000 });
  taken.close();
  assert.equal(busy.status, 1, busy.stderr);
  assert.match(busy.stderr, new RegExp(`cannot listen on 127.0.0.1:${port}: the port is taken`));
  noStack(busy);
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
  // A check that cannot decide exits 2; 1 means denied.
  const missing = zeromesh("check", "-f", DEMO, "--from", "shop/nobody", "--to", "http://backend.shop:9000/");
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no workload "shop\/nobody".*\[ZM_NOT_FOUND\]/);
  assert.equal(zeromesh("check", "--bogus").status, 2);
});

test("cli: check explains end-user tokens (which token, which issuer, which claim) and CUSTOM authorizers", () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-cli-"));
  const f = join(dir, "mesh.yaml");
  // Istio's sample key set and token (security/tools/jwt/samples), and a policy on its claims.
  const jwks = '{"keys":[{"e":"AQAB","kid":"DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ","kty":"RSA","n":"xAE7eB6qugXyCAG3yhh7pkDkT65pHymX-P7KfIupjf59vsdo91bSP9C8H07pSAGQO1MV_xFj9VswgsCg4R6otmg5PV2He95lZdHtOcU5DXIg_pbhLdKXbi66GlVeK6ABZOUW3WYtnNHD-91gVuoeJT_DwtGGcp4ignkgXfkiEm4sw-4sfb4qdt5oLbyVpmW6x9cfa7vs2WTfURiCrBoUqgBo_-4WTiULmmHSGZHOjzwa8WtrtOQGsAFjIbno85jp6MnGGGZPYZbDAa_b3y5u-YpW7ypZrvD8BgtKVjgtQgZhLAGezMt0ua3DRrWnKqTZ0BJ_EyxOGuHJrLsn00fnMQ"}]}';
  const token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkRIRmJwb0lVcXJZOHQyenBBMnFYZkNtcjVWTzVaRXI0UnpIVV8tZW52dlEiLCJ0eXAiOiJKV1QifQ.eyJleHAiOjQ2ODU5ODk3MDAsImZvbyI6ImJhciIsImlhdCI6MTUzMjM4OTcwMCwiaXNzIjoidGVzdGluZ0BzZWN1cmUuaXN0aW8uaW8iLCJzdWIiOiJ0ZXN0aW5nQHNlY3VyZS5pc3Rpby5pbyJ9.CfNnxWP2tcnR9q0vxyxweaF3ovQYHYZl82hAUsn21bwQd9zP7c-LS9qd_vpdLG4Tn1A15NxfCjp5f7QNBUo-KC9PJqYpgGbaXhaGx7bEdFWjcwv3nZzvc7M__ZpaCERdwU7igUmJqYGBYQ51vr2njU9ZimyKkfDe3axcyiBZde7G6dabliUosJvvKOPcKIWPccCgefSj_GNfwIip3-SsFdlR7BtbVUcqR-yv-XOxJ3Uc1MI0tz3uMiiZcyPV7sNCU4KRnemRIMHVOfuvHsU60_GhGbiSFzgPTAa9WTltbnarTbxudb_YEOx12JiwYToeX0DCPb43W1tzIBxgm8NxUg";
  writeFileSync(f, [
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: foo, labels: {istio-injection: enabled}}",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: sleep, namespace: foo}\nspec: {selector: {matchLabels: {app: sleep}}, template: {metadata: {labels: {app: sleep}}, spec: {containers: [{name: c, image: c}]}}}",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: httpbin, namespace: foo}\nspec: {selector: {matchLabels: {app: httpbin}}, template: {metadata: {labels: {app: httpbin}}, spec: {containers: [{name: c, image: c, ports: [{containerPort: 8000}]}]}}}",
    "apiVersion: v1\nkind: Service\nmetadata: {name: httpbin, namespace: foo}\nspec: {selector: {app: httpbin}, ports: [{name: http, port: 8000}]}",
    `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: foo}\nspec: {selector: {matchLabels: {app: httpbin}}, jwtRules: [{issuer: testing@secure.istio.io, jwks: '${jwks}'}]}`,
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: foo-claim, namespace: foo}\nspec: {selector: {matchLabels: {app: httpbin}}, rules: [{when: [{key: 'request.auth.claims[foo]', values: [bar]}]}]}",
  ].join("\n---\n"));
  const ok = zeromesh("check", "-f", f, "--from", "foo/sleep", "--to", "http://httpbin.foo:8000/get", "-H", `authorization: Bearer ${token}`);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /\[authn\] sidecar foo\/httpbin: the token in the header authorization verifies with RequestAuthentication\/foo\/jwt jwtRules\[0\]: request principal testing@secure.istio.io\/testing@secure.istio.io/);
  assert.match(ok.stdout, /ALLOW AuthorizationPolicy\/foo\/foo-claim: rule 0 matches/);
  const bad = zeromesh("check", "-f", f, "--from", "foo/sleep", "--to", "http://httpbin.foo:8000/get", "-H", `authorization: Bearer ${token.slice(0, -4)}AAAA`);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /^DENIED: HTTP 401/);
  assert.match(bad.stdout, /Jwt verification fails/);
  const none = zeromesh("check", "-f", f, "--from", "foo/sleep", "--to", "http://httpbin.foo:8000/get");
  assert.match(none.stdout, /^DENIED: HTTP 403/);
  assert.match(none.stdout, /no token in the request/);
  // A CUSTOM policy: check names the authorizer it would ask, and says it cannot know the answer.
  writeFileSync(join(dir, "custom.yaml"), "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext, namespace: foo}\nspec: {selector: {matchLabels: {app: httpbin}}, action: CUSTOM, provider: {name: authz}, rules: [{}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    extensionProviders: [{name: authz, envoyExtAuthzHttp: {service: authz.foo.svc.cluster.local, port: 8000}}]\n");
  const custom = zeromesh("check", "-f", f, "-f", join(dir, "custom.yaml"), "--from", "foo/sleep", "--to", "http://httpbin.foo:8000/get", "-H", `authorization: Bearer ${token}`);
  assert.equal(custom.status, 1, custom.stdout + custom.stderr);
  assert.match(custom.stdout, /asked the authorizer "authz" \(authz.foo.svc.cluster.local:8000\)/);
  assert.match(custom.stdout, /zeromesh check does not call external authorizers/);
});

test("cli: test --reporter junit|json puts the report alone on stdout, the text on stderr", () => {
  const scenario = join(PROJECT_ROOT, "examples", "scenarios", "getting-started.yaml");
  const junit = zeromesh("test", "--static", "--reporter", "junit", scenario);
  assert.equal(junit.status, 0, junit.stderr);
  assert.match(junit.stdout, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="zeromesh scenarios" tests="\d+" failures="0" errors="0">/);
  assert.match(junit.stderr, /\d+ passed, 0 failed$/m);
  const json = JSON.parse(zeromesh("test", "--static", "--reporter", "json", scenario).stdout);
  assert.equal(json.failed, 0);
  assert.ok(json.passed > 0);
  assert.equal(zeromesh("test", "--static", "--reporter", "tap", scenario).status, 2);
});

test("cli: test --static over the project's scenarios ends with the summary line", () => {
  const r = zeromesh("test", "--static", join(PROJECT_ROOT, "examples", "scenarios"), join(PROJECT_ROOT, "test", "scenarios"));
  assert.equal(r.status, 0, failures(r.stdout));
  assert.match(r.stdout.trimEnd().split("\n").at(-1)!, /^\d+ passed, 0 failed$/);
});

const SEEDS = join(PROJECT_ROOT, "..", "shared", "scenarios", "seeds");
// A user's clone has no ../shared; CI and developers have it.
if (existsSync(SEEDS)) test("cli: test --static passes every seed scenario", () => {
  const r = zeromesh("test", "--static", SEEDS);
  assert.equal(r.status, 0, failures(r.stdout));
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
