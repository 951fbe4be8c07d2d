import { test } from "node:test";
import assert from "node:assert/strict";
import { ZmError } from "../api/errors.js";
import { describeSettings, loadSettings, proxyNodeArgs } from "./settings.js";

test("settings: defaults, environment, and a clear error naming the variable", () => {
  const d = loadSettings({});
  assert.equal(d.workloadCertTtl, 24 * 3_600_000);
  assert.equal(d.rotateAt, 0.5);
  assert.equal(d.stateDir, ".zeromesh");
  assert.equal(loadSettings({ ZEROMESH_WORKLOAD_CERT_TTL: "90m" }).workloadCertTtl, 90 * 60_000);
  assert.equal(loadSettings({}, { workloadCertTtl: "2s" }).workloadCertTtl, 2000);
  assert.throws(() => loadSettings({ ZEROMESH_WORKLOAD_CERT_TTL: "a day" }), (e) => e instanceof ZmError && e.code === "ZM_INVALID_SETTING" && /^ZEROMESH_WORKLOAD_CERT_TTL: "a day" is not a duration/.test(e.message));
  assert.throws(() => loadSettings({ ZEROMESH_ROTATE_AT: "1.5" }), /ZEROMESH_ROTATE_AT: "1.5" must be a number between 0 and 1/);
  assert.match(describeSettings(), /ZEROMESH_STATE_DIR/);
});

test("settings: the proxies' V8 settings become node flags (semi-space 0 keeps V8's default; idle shrinking and GC helper threads off by default)", () => {
  assert.deepEqual(proxyNodeArgs(loadSettings({})), ["--max-semi-space-size=2", "--no-memory-reducer", "--single-threaded-gc"]);
  assert.deepEqual(proxyNodeArgs(loadSettings({ ZEROMESH_PROXY_SEMI_SPACE_MB: "0" })), ["--no-memory-reducer", "--single-threaded-gc"]);
  assert.deepEqual(proxyNodeArgs(loadSettings({ ZEROMESH_PROXY_SHRINK_WHEN_IDLE: "on" })), ["--max-semi-space-size=2", "--single-threaded-gc"]);
  assert.deepEqual(proxyNodeArgs(loadSettings({ ZEROMESH_PROXY_PARALLEL_GC: "on" })), ["--max-semi-space-size=2", "--no-memory-reducer"]);
  assert.throws(() => loadSettings({ ZEROMESH_PROXY_SHRINK_WHEN_IDLE: "sometimes" }), /ZEROMESH_PROXY_SHRINK_WHEN_IDLE: "sometimes" must be on or off/);
  assert.throws(() => loadSettings({ ZEROMESH_PROXY_SEMI_SPACE_MB: "lots" }), /ZEROMESH_PROXY_SEMI_SPACE_MB: "lots" must be a whole number of megabytes/);
});
