import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ZmError } from "../api/errors.js";
import { DEFAULT_MESH } from "../api/mesh.js";
import { snapshotOf } from "../testing/helpers.js";
import { FileSource } from "./files.js";
import { MemoryStore } from "./memory.js";

const NS = (n: string) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${n}}`;
const BAD_GW = `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: a}\nspec: {servers: [{port: {number: 80, name: http, protocol: NOPE}, hosts: ["*"]}]}`;

test("store: commits are versioned and report what changed", () => {
  const store = new MemoryStore();
  const events: string[] = [];
  store.subscribe((e) => events.push(`${e.version}:${e.created.join(",")}|${e.updated.join(",")}|${e.deleted.join(",")}`));
  const a = snapshotOf(NS("a")).list("Namespace");
  store.commit({ upsert: a });
  store.commit({ upsert: a });
  store.commit({ remove: [{ kind: "Namespace", namespace: "", name: "a" }] });
  assert.deepEqual(events, ["1:Namespace//a||", "2:|Namespace//a|", "3:||Namespace//a"]);
  assert.equal(store.snapshot().version, 3);
});

test("store: deleting something missing changes nothing", () => {
  const store = new MemoryStore(snapshotOf(NS("a")).list("Namespace"));
  const before = store.snapshot();
  assert.throws(() => store.commit({ upsert: snapshotOf(NS("b")).list("Namespace"), remove: [{ kind: "Namespace", namespace: "", name: "zz" }] }), (e) => e instanceof ZmError && e.code === "ZM_NOT_FOUND");
  assert.equal(store.snapshot(), before);
});

test("store: a file reload with one invalid document changes nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-store-"));
  writeFileSync(join(dir, "a.yaml"), NS("a"));
  const store = new MemoryStore();
  const src = new FileSource(store, [dir], DEFAULT_MESH);
  assert.deepEqual(src.load().filter((i) => i.severity === "error"), []);
  assert.equal(store.snapshot().list("Namespace").length, 1);
  const good = store.snapshot();
  writeFileSync(join(dir, "b.yaml"), `${NS("b")}\n---\n${BAD_GW}`);
  const issues = src.load();
  assert.equal(issues.filter((i) => i.severity === "error").length, 1);
  assert.equal(store.snapshot(), good, "the store keeps its last good snapshot");
  writeFileSync(join(dir, "b.yaml"), NS("b"));
  src.load();
  assert.deepEqual(store.snapshot().list("Namespace").map((n) => n.meta.name), ["a", "b"]);
  writeFileSync(join(dir, "b.yaml"), "");
  src.load();
  assert.deepEqual(store.snapshot().list("Namespace").map((n) => n.meta.name), ["a"], "removing a document from the files deletes it");
});

test("store: a watched directory reloads on change", async () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-watch-"));
  writeFileSync(join(dir, "a.yaml"), NS("a"));
  const store = new MemoryStore();
  const src = new FileSource(store, [dir], DEFAULT_MESH, () => {}, 20);
  src.load();
  const changed = new Promise<void>((resolve) => store.subscribe((_e, s) => s.list("Namespace").length === 2 && resolve()));
  src.watch();
  writeFileSync(join(dir, "b.yaml"), NS("b"));
  await changed;
  src.close();
  assert.deepEqual(store.snapshot().list("Namespace").map((n) => n.meta.name), ["a", "b"]);
});
