// A local user reads every process's command line (/proc/PID/cmdline): no credential may be there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { LiveMesh } from "../scenario/live-runner.js";
import { meshYaml } from "../testing/helpers.js";

test("attack: no bootstrap or admin credential on any mesh process's command line", { timeout: 60_000 }, async () => {
  const mesh = new LiveMesh({ file: "cmdline", name: "cmdline", resources: [{ text: meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]), label: "mesh.yaml" }], certificates: [], externals: [], apps: [], steps: [] });
  try {
    await mesh.start();
    const pids = Object.values(mesh.sidecarPids());
    assert.equal(pids.length, 2, "both sidecars run as processes of their own");
    for (const pid of [...pids, mesh.controlPid()!]) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      assert.ok(!argv.includes("--token"), `pid ${pid}: no --token argument`);
      // A bootstrap credential is base64url.base64url; the admin credential is 64 hex digits.
      const secretLike = argv.filter((a) => /^[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{20,}$/.test(a) || a.includes(mesh.adminToken));
      assert.deepEqual(secretLike, [], `pid ${pid}: ${argv.join(" ")}`);
    }
  } finally {
    await mesh.stop();
  }
});
