import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";
import { createCsrInChild } from "./csr-child.js";
import { parseCsr } from "./x509.js";

const ID = "spiffe://cluster.local/ns/shop/sa/web";

test("csr-child: the child's request names the identity, verifies, and is for the key it returned", async () => {
  const { csrPem, keyPem } = await createCsrInChild(ID);
  const parsed = await parseCsr(csrPem);
  assert.deepEqual(parsed.uris, [ID]);
  const fromCsr = Buffer.from(await webcrypto.subtle.exportKey("spki", parsed.publicKey as unknown as webcrypto.CryptoKey));
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" });
  assert.deepEqual(fromCsr, fromKey);
});

test("csr-child: two requests get two different keys", async () => {
  const [a, b] = await Promise.all([createCsrInChild(ID), createCsrInChild(ID)]);
  assert.notEqual(a.keyPem, b.keyPem);
});

test("csr-child: a proxy process that makes requests this way never loads the X.509 library", () => {
  // The point of the child: the long-lived proxy keeps its memory. Loading the proxy's agent must not pull the library in.
  const script = `
    import { createRequire } from "node:module";
    await import(${JSON.stringify(join(PROJECT_ROOT, "dist", "proxy", "agent.js"))});
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes("@peculiar") || p.includes("reflect-metadata"));
    process.stdout.write(JSON.stringify(loaded));`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: PROJECT_ROOT, encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), []);
});

test("csr-child: a failing child is reported with ZM_CSR_FAILED", async () => {
  await assert.rejects(createCsrInChild(""), /ZM_CSR_FAILED/);
});
