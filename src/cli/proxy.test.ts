import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBootstrap } from "./proxy.js";

test("proxy stdin: the credential alone, or with a first key and CSR from the node agent; anything else gives no credential", () => {
  assert.deepEqual(parseBootstrap("abc.def\n"), { token: "abc.def" });
  assert.deepEqual(parseBootstrap(JSON.stringify({ token: " abc.def ", csrPem: "C", keyPem: "K" })), { token: "abc.def", csr: { csrPem: "C", keyPem: "K" } });
  assert.deepEqual(parseBootstrap(JSON.stringify({ token: "abc.def", csrPem: "C" })), { token: "abc.def", csr: undefined }, "half a key pair is none");
  assert.deepEqual(parseBootstrap("{not json"), { token: "" });
  assert.deepEqual(parseBootstrap(JSON.stringify({ token: 7 })), { token: "", csr: undefined });
});
