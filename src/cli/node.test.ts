import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readJoinFile } from "./node.js";

test("join file: read only when its node alone may read it, and only when it is one", () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-join-"));
  const file = join(dir, "n1.join");
  const good = { node: "n1", token: "a.b", rootPem: "-----BEGIN CERTIFICATE-----" };
  writeFileSync(file, JSON.stringify(good), { mode: 0o644 });
  chmodSync(file, 0o644);
  assert.throws(() => readJoinFile(file), (e: Error & { code?: string }) => e.code === "ZM_NODE_REJECTED" && /may be read by others \(mode 644\).*chmod 600/.test(e.message));
  chmodSync(file, 0o600);
  assert.deepEqual(readJoinFile(file), good);
  writeFileSync(file, "not json");
  assert.throws(() => readJoinFile(file), /is not a join file/);
  writeFileSync(file, JSON.stringify({ node: "n1" }));
  assert.throws(() => readJoinFile(file), /needs node, token and rootPem/);
  assert.throws(() => readJoinFile(join(dir, "missing")), /cannot read the join file .*ENOENT/);
});
