// Alert delivery against a real HTTP receiver: Slack's webhook JSON, retries
// with back-off on failure, no retry on a client error, a bounded queue, and
// every undelivered message audited and kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describeEgressChange, egressChanges } from "./egress-diff.js";
import { Notifier } from "./notifier.js";
import { snapshotOf } from "../testing/helpers.js";

async function receiver(answer: (n: number) => number) {
  const got: { text: string }[] = [];
  let n = 0;
  const s = createServer((q, r) => {
    const chunks: Buffer[] = [];
    q.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
      const status = answer(++n);
      if (status === 200) got.push(JSON.parse(Buffer.concat(chunks).toString()));
      r.writeHead(status).end();
    });
  });
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`, got, calls: () => n, close: () => s.close() };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
};

test("notifier: delivers in order, retries a 5xx with back-off, gives up on a 4xx, and keeps what it could not deliver", async () => {
  const flaky = await receiver((n) => (n === 1 ? 503 : 200));
  const refusing = await receiver(() => 404);
  const audits: Record<string, unknown>[] = [];
  const n = new Notifier([flaky.url, refusing.url], { backoffMs: 10, audit: (e) => audits.push(e) });
  try {
    n.notify("first");
    n.notify("second");
    await until(() => n.idle());
    assert.deepEqual(flaky.got.map((m) => m.text), ["first", "second"], "the 503 was retried, and order kept");
    assert.equal(refusing.calls(), 2, "a 404 is not retried: one call per message");
    assert.deepEqual(n.failures().map((f) => [f.text, f.error]), [["first", "answered 404"], ["second", "answered 404"]]);
    assert.equal(n.failures()[0]!.receiver, `${new URL(refusing.url).origin}/hook`);
    assert.equal(audits.filter((a) => a.event === "alert-delivery-failed").length, 2);
  } finally {
    n.stop();
    flaky.close();
    refusing.close();
  }
});

test("notifier: an unreachable receiver costs its attempts, and a full queue drops the oldest, said so", async () => {
  const n = new Notifier(["http://127.0.0.1:1/hook"], { backoffMs: 5, attempts: 2, queue: 1 });
  n.notify("a");
  n.notify("b");
  n.notify("c");
  await until(() => n.idle());
  const why = n.failures().map((f) => `${f.text}: ${f.error.startsWith("the receiver's queue") ? "dropped" : "undelivered"}`);
  assert.ok(why.includes("b: dropped"), why.join("; "));
  assert.ok(why.includes("a: undelivered") && why.includes("c: undelivered"), why.join("; "));
  n.stop();
});

test("egress diff: ServiceEntries, Sidecar egress hosts and outbound policies, meshConfig's mode", () => {
  const se = (hosts: string) => `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: a}\nspec: {hosts: [${hosts}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}`;
  const sc = (hosts: string, mode = "") => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: a}\nspec: {egress: [{hosts: [${hosts}]}]${mode ? `, outboundTrafficPolicy: {mode: ${mode}}` : ""}}`;
  const before = snapshotOf([se("a.example.com"), sc('"./*"')].join("\n---\n"));
  const after = snapshotOf([se("a.example.com, b.example.com"), sc('"./*", "istio-system/*"', "REGISTRY_ONLY")].join("\n---\n"), { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } });
  assert.deepEqual(egressChanges(before, after).map(describeEgressChange), [
    "ServiceEntry/a/ext hosts changed: +b.example.com:443",
    "Sidecar/a/default egress hosts changed: +istio-system/*",
    "Sidecar/a/default outboundTrafficPolicy (mesh default) → REGISTRY_ONLY",
    "meshConfig outboundTrafficPolicy ALLOW_ANY → REGISTRY_ONLY",
  ]);
  assert.deepEqual(egressChanges(after, snapshotOf("")).map(describeEgressChange), [
    "ServiceEntry/a/ext removed: −a.example.com:443, −b.example.com:443",
    "Sidecar/a/default removed: −./*, −istio-system/*",
    "meshConfig outboundTrafficPolicy REGISTRY_ONLY → ALLOW_ANY",
  ]);
  assert.deepEqual(egressChanges(before, before), []);
});
