import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EndpointBook } from "./endpoints.js";

const WEB = { "8080": "127.0.0.2:8080" };
const DB = { "5432": "127.0.0.3:5432" };
const PLAIN = { "80": "127.0.0.4:80" };

type Step = (b: EndpointBook) => void;

const cases: { name: string; steps: Step[]; table: Record<string, unknown>; awaited: string[] }[] = [
  { name: "a connected proxy is an endpoint", steps: [(b) => b.connect("b/web", WEB)], table: { "b/web": WEB }, awaited: [] },
  { name: "a lost stream is remembered for the grace", steps: [(b) => b.connect("b/web", WEB), (b) => b.lose("b/web", 1000)], table: { "b/web": WEB }, awaited: ["b/web"] },
  { name: "a lost stream is forgotten when the grace ends", steps: [(b) => b.connect("b/web", WEB), (b) => b.lose("b/web", 1000), (b) => b.expire(1000 + 500)], table: {}, awaited: [] },
  { name: "not before the grace ends", steps: [(b) => b.connect("b/web", WEB), (b) => b.lose("b/web", 1000), (b) => b.expire(1000 + 499)], table: { "b/web": WEB }, awaited: ["b/web"] },
  { name: "reconnecting within the grace keeps it for good", steps: [(b) => b.connect("b/web", WEB), (b) => b.lose("b/web", 1000), (b) => b.connect("b/web", WEB), (b) => b.expire(9999)], table: { "b/web": WEB }, awaited: [] },
  { name: "leaving withdraws at once", steps: [(b) => b.connect("b/web", WEB), (b) => b.leave("b/web")], table: {}, awaited: [] },
  { name: "leaving also withdraws a remembered one", steps: [(b) => b.connect("b/web", WEB), (b) => b.lose("b/web", 0), (b) => b.leave("b/web")], table: {}, awaited: [] },
  { name: "losing a proxy that never connected changes nothing", steps: [(b) => b.lose("b/web", 0)], table: {}, awaited: [] },
  { name: "a reconnect reports its new listeners", steps: [(b) => b.connect("b/web", WEB), (b) => b.lose("b/web", 0), (b) => b.connect("b/web", { "8080": "127.0.0.2:9090" })], table: { "b/web": { "8080": "127.0.0.2:9090" } }, awaited: [] },
  { name: "registered workloads stay until unregistered, grace or not", steps: [(b) => b.register("c/legacy", PLAIN), (b) => b.expire(1e12)], table: { "c/legacy": PLAIN }, awaited: [] },
  { name: "unregistering withdraws", steps: [(b) => b.register("c/legacy", PLAIN), (b) => b.register("c/legacy", null)], table: {}, awaited: [] },
];

for (const c of cases) {
  test(`endpoint book: ${c.name}`, () => {
    const book = EndpointBook.open(undefined, 500, 0);
    for (const step of c.steps) step(book);
    assert.deepEqual(book.table(), c.table);
    assert.deepEqual(book.awaited(), c.awaited);
  });
}

test("endpoint book: a restart starts from the saved book, every proxy remembered for the grace from the start", () => {
  const file = join(mkdtempSync(join(tmpdir(), "zm-ep-")), "endpoints.json");
  const before = EndpointBook.open(file, 500, 0);
  before.connect("b/web", WEB);
  before.connect("c/db", DB);
  before.lose("c/db", 100); // lost before the restart: remembered again from the restart, not from when it was lost
  before.register("c/legacy", PLAIN);

  const after = EndpointBook.open(file, 500, 10_000);
  assert.deepEqual(after.table(), { "b/web": WEB, "c/db": DB, "c/legacy": PLAIN });
  assert.deepEqual(after.awaited().sort(), ["b/web", "c/db"]);
  assert.equal(after.nextExpiry(), 10_500);
  after.connect("b/web", WEB);
  assert.deepEqual(after.expire(10_500), ["c/db"]);
  assert.deepEqual(after.table(), { "b/web": WEB, "c/legacy": PLAIN });
  assert.equal(after.nextExpiry(), undefined);
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { sidecars: { "b/web": WEB }, plain: { "c/legacy": PLAIN } }, "saved as it changes");
});

test("endpoint book: an unreadable or malformed file starts empty", () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-ep-"));
  assert.deepEqual(EndpointBook.open(join(dir, "missing.json"), 500, 0).table(), {});
  for (const text of ["{not json", JSON.stringify({ sidecars: { "b/web": { "8080": 8080 } }, plain: [] }), "null"]) {
    writeFileSync(join(dir, "bad.json"), text);
    assert.deepEqual(EndpointBook.open(join(dir, "bad.json"), 500, 0).table(), {}, text);
  }
});

test("endpoint book: a state directory it cannot write keeps the book in memory and says so once", () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-ep-"));
  const errors: string[] = [];
  // A directory where the file should be: every save fails.
  const file = join(dir, "endpoints.json");
  mkdirSync(file);
  const book = EndpointBook.open(file, 500, 0, (m) => errors.push(m));
  book.connect("b/web", WEB);
  book.connect("c/db", DB);
  assert.deepEqual(book.table(), { "b/web": WEB, "c/db": DB });
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /cannot save endpoints to .*endpoints\.json .*check that the state directory is writable/);
});
