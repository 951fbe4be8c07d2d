import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { ZmError } from "../api/errors.js";
import { parseJsonObject, readBody, readJson } from "./limits.js";

const stream = (chunks: (string | Buffer)[], headers?: Record<string, unknown>) => {
  const s = Object.assign(new PassThrough(), { headers });
  queueMicrotask(() => {
    for (const c of chunks) s.write(c);
    s.end();
  });
  return s;
};
const code = (c: string) => (e: unknown) => e instanceof ZmError && e.code === c;

test("readBody: up to the limit is read whole; one byte more, or a declared length over it, is ZM_REQUEST_TOO_LARGE", async () => {
  assert.equal(await readBody(stream(["ab", Buffer.from("cd")]), 4), "abcd");
  assert.equal(await readBody(stream([]), 4), "");
  await assert.rejects(readBody(stream(["abc", "de"]), 4), code("ZM_REQUEST_TOO_LARGE"));
  await assert.rejects(readBody(stream(["a"]), 4, "5"), code("ZM_REQUEST_TOO_LARGE"), "refused by its declared length before reading");
  assert.equal(await readBody(stream(["abcd"]), 4, 4), "abcd");
  assert.equal(await readBody(stream(["é"]), 2), "é", "bytes, not characters, and UTF-8 decoded");
  await assert.rejects(readBody(stream(["éé"]), 3), code("ZM_REQUEST_TOO_LARGE"));
  const failing = new PassThrough();
  queueMicrotask(() => failing.destroy(new Error("boom")));
  await assert.rejects(readBody(failing, 4), /boom/);
});

test("readJson and parseJsonObject: only a JSON object is a message", async () => {
  assert.deepEqual(await readJson(stream(['{"a":1}'], { "content-length": "7" }), 100), { a: 1 });
  await assert.rejects(readJson(stream(['{"a":1}'], { "content-length": "700" }), 100), code("ZM_REQUEST_TOO_LARGE"));
  assert.deepEqual(parseJsonObject("{}"), {});
  for (const text of ["", "nope", "{", "[]", "[1]", "1", '"x"', "null", "true"]) assert.throws(() => parseJsonObject(text), code("ZM_BAD_MESSAGE"), text);
});
