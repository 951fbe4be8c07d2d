import { test } from "node:test";
import assert from "node:assert/strict";
import { checkProxyMessage, controlMessage, isListenerTable } from "./protocol.js";

test("isListenerTable: {PORT: ADDR:PORT} with ports a socket can use, at most 1,024 entries", () => {
  const ok: unknown[] = [{}, { "8080": "127.1.2.3:8080" }, { "1": "10.0.0.1:65535" }, { "443": "[::1]:443" }, { "80": "::1:80" }];
  const bad: unknown[] = [
    null, [], "8080", 7, { "0": "127.0.0.1:80" }, { "65536": "127.0.0.1:80" }, { "8080": "127.0.0.1:0" }, { "8080": "127.0.0.1:65536" },
    { "8080": "127.0.0.1:99999" }, { "8080": "127.0.0.1" }, { "8080": "host.example:80" }, { "8080": 80 }, { "x": "127.0.0.1:80" },
    { "8080": "127.0.0.1:80\n" }, { "8080": `${"1".repeat(70)}:80` }, { "-1": "127.0.0.1:80" },
  ];
  for (const l of ok) assert.equal(isListenerTable(l), true, JSON.stringify(l));
  for (const l of bad) assert.equal(isListenerTable(l), false, JSON.stringify(l));
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i + 1), `127.0.0.1:${i + 1}`]));
  assert.equal(isListenerTable(many(1024)), true);
  assert.equal(isListenerTable(many(1025)), false);
});

test("checkProxyMessage: each message type with its fields checked; anything else is why not", () => {
  const L = { "8080": "127.1.2.3:8080" };
  const cases: [unknown, unknown][] = [
    [{ type: "hello", listeners: L, outbound: "127.1.2.3:15001", stats: "127.1.2.3:15090" }, { type: "hello", listeners: L, outbound: "127.1.2.3:15001", stats: "127.1.2.3:15090" }],
    [{ type: "hello", listeners: L }, { type: "hello", listeners: L, outbound: undefined, stats: undefined }],
    [{ type: "hello", listeners: L, outbound: "", stats: "" }, { type: "hello", listeners: L, outbound: undefined, stats: undefined }],
    [{ type: "hello", listeners: { "8080": "x" } }, "hello with listeners that are not {PORT: ADDR:PORT}"],
    [{ type: "hello" }, "hello with listeners that are not {PORT: ADDR:PORT}"],
    [{ type: "hello", listeners: L, outbound: "nowhere" }, "hello with an outbound or stats address that is not ADDR:PORT"],
    [{ type: "hello", listeners: L, stats: "127.0.0.1:0" }, "hello with an outbound or stats address that is not ADDR:PORT"],
    [{ type: "hello", listeners: L, outbound: 15001 }, "hello with an outbound or stats address that is not ADDR:PORT"],
    // An array whose one element is an address reads as that address when coerced to text: still not an address.
    [{ type: "hello", listeners: L, outbound: ["127.1.2.3:15001"] }, "hello with an outbound or stats address that is not ADDR:PORT"],
    [{ type: "hello", listeners: { "8080": ["127.1.2.3:8080"] } }, "hello with listeners that are not {PORT: ADDR:PORT}"],
    [{ type: "ack", version: 3 }, { type: "ack", version: 3 }],
    [{ type: "ack", version: "3" }, "ack without a version"],
    [{ type: "ack", version: 1.5 }, "ack without a version"],
    [{ type: "ack" }, "ack without a version"],
    [{ type: "nack", version: 4, error: "bad" }, { type: "nack", version: 4, error: "bad" }],
    [{ type: "nack", version: 4 }, { type: "nack", version: 4, error: "" }],
    [{ type: "nack", version: 4, error: "x", resync: true }, { type: "nack", version: 4, error: "x", resync: true }],
    [{ type: "nack", version: 4, error: "x", resync: "yes" }, { type: "nack", version: 4, error: "x" }],
    [{ type: "nack", error: "x" }, "nack without a version"],
    [{ type: "leave", extra: 1 }, { type: "leave" }],
    [{ type: "egress-blocked", destinations: [1], dropped: 2 }, { type: "egress-blocked", destinations: [1], dropped: 2 }],
    [{ type: "bye" }, 'a message of unknown type "bye"'],
    [{}, 'a message of unknown type "undefined"'],
    [null, "a message that is not a JSON object"],
    [[{ type: "ack", version: 1 }], "a message that is not a JSON object"],
    ["ack", "a message that is not a JSON object"],
  ];
  for (const [m, want] of cases) assert.deepEqual(checkProxyMessage(m), want, JSON.stringify(m));
  const long = checkProxyMessage({ type: "nack", version: 1, error: "e".repeat(5000) });
  assert.equal(typeof long === "object" && long.type === "nack" && long.error.length, 2000);
  assert.equal(checkProxyMessage({ type: "x".repeat(100) }), `a message of unknown type "${"x".repeat(40)}"`);
});

test("controlMessage: a whole configuration or a delta with its fields; anything else is not taken", () => {
  const config = { version: 2, workload: "a/x", mesh: {}, manifests: [], endpoints: {}, names: {} };
  const delta = { version: 3, base: 2, workload: "a/x", upsert: [], remove: [], endpoints: {}, names: {} };
  assert.deepEqual(controlMessage({ type: "config", config }), { type: "config", config });
  assert.deepEqual(controlMessage({ type: "delta", delta }), { type: "delta", delta });
  const not: unknown[] = [
    null, "config", [], {}, { type: "config" }, { type: "config", config: null }, { type: "config", config: { ...config, manifests: {} } },
    { type: "delta", delta: { ...delta, base: "2" } }, { type: "delta", delta: { ...delta, version: 1.5 } }, { type: "delta", delta: { ...delta, upsert: {} } },
    { type: "delta", delta: { ...delta, remove: "x" } }, { type: "delta", delta: { ...delta, endpoints: [] } }, { type: "delta", delta: { ...delta, names: null } },
    { type: "other", config },
  ];
  for (const m of not) assert.equal(controlMessage(m), undefined, JSON.stringify(m));
});
