import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import * as packet from "dns-packet";
import { PodDns, answer, rcodeOf, systemResolvers } from "./dns-server.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MESH: Record<string, string[]> = { "web.b.svc.cluster.local": ["10.96.1.2"], "api.example.com": ["240.240.3.4"] };
const resolve = (n: string) => MESH[n];
const query = (name: string, type: "A" | "AAAA" = "A") => ({ type: "query", id: 7, flags: packet.RECURSION_DESIRED, questions: [{ type, name, class: "IN" }] }) as packet.Packet;

test("pod DNS answers: mesh names with their addresses, NXDOMAIN under cluster.local, everything else forwarded", () => {
  const cases: [string, "A" | "AAAA", string | undefined, string[]][] = [
    ["web.b.svc.cluster.local", "A", "NOERROR", ["10.96.1.2"]],
    ["WEB.b.svc.cluster.local.", "A", "NOERROR", ["10.96.1.2"]],
    ["web.b.svc.cluster.local", "AAAA", "NOERROR", []],
    ["api.example.com", "A", "NOERROR", ["240.240.3.4"]],
    ["web.a.svc.cluster.local", "A", "NXDOMAIN", []],
    ["cluster.local", "A", "NXDOMAIN", []],
    ["example.org", "A", undefined, []],
  ];
  for (const [name, type, rcode, addresses] of cases) {
    const a = answer(query(name, type), resolve);
    if (rcode === undefined) {
      assert.equal(a, undefined, `${name}: forwarded`);
      continue;
    }
    // Encoded and decoded again, as the resolver reads it.
    assert.equal(rcodeOf(packet.decode(packet.encode(a!))), rcode, name);
    assert.equal(a?.id, 7);
    assert.deepEqual(a?.answers?.map((x) => (x as { data: string }).data), addresses, name);
    assert.ok(((a?.flags ?? 0) & packet.AUTHORITATIVE_ANSWER) !== 0, `${name}: authoritative`);
  }
  assert.equal(rcodeOf(packet.decode(packet.encode(answer({ type: "query", id: 1, questions: [] }, resolve)!))), "FORMERR");
});

test("pod DNS over UDP: a real resolver's query is answered; names the mesh lacks go upstream, SERVFAIL when none answers", async () => {
  const upstream = createSocket("udp4");
  await new Promise<void>((r) => upstream.bind(0, "127.0.0.1", () => r()));
  upstream.on("message", (msg, from) => {
    const q = packet.decode(msg);
    upstream.send(packet.encode({ type: "response", id: q.id, flags: 0, questions: q.questions, answers: [{ type: "A", name: q.questions![0]!.name, ttl: 5, class: "IN", data: "192.0.2.9" }] } as packet.Packet), from.port, from.address);
  });
  const dns = new PodDns(resolve, []);
  const at = await dns.listen("127.0.0.1", 0);
  const ask = (port: number, name: string) => new Promise<packet.Packet>((res) => {
    const c = createSocket("udp4");
    c.on("message", (m) => (c.close(), res(packet.decode(m))));
    c.send(packet.encode(query(name)), port, "127.0.0.1");
  });
  const port = Number(at.split(":")[1]);
  // Garbage, a truncated header and an oversized datagram are not answered, and the server goes on answering.
  const junk = createSocket("udp4");
  for (const bytes of [Buffer.from("GET / HTTP/1.1\r\n\r\n"), Buffer.from([0x12, 0x34, 0x01]), Buffer.alloc(60_000, 0xff)]) await new Promise((r) => junk.send(bytes, port, "127.0.0.1", r));
  junk.close();
  assert.deepEqual((await ask(port, "web.b.svc.cluster.local")).answers?.map((a) => (a as { data: string }).data), ["10.96.1.2"]);
  assert.equal(rcodeOf(await ask(port, "example.org")), "SERVFAIL", "no upstream");
  assert.equal(rcodeOf(await ask(port, "nothing.b.svc.cluster.local")), "NXDOMAIN");
  dns.close();
  const forwarding = new PodDns(resolve, [`127.0.0.1:${(upstream.address() as { port: number }).port}`]);
  const port2 = Number((await forwarding.listen("127.0.0.1", 0)).split(":")[1]);
  const forwarded = await ask(port2, "example.org");
  assert.deepEqual(forwarded.answers?.map((a) => (a as { data: string }).data), ["192.0.2.9"], "the node's resolver's answer, as it came");
  assert.deepEqual((await ask(port2, "web.b.svc.cluster.local")).answers?.map((a) => (a as { data: string }).data), ["10.96.1.2"], "mesh names never go upstream");
  forwarding.close();
  upstream.close();
  // The node's resolvers come from its resolv.conf, never a loopback one (inside a pod that would be the pod's own).
  const conf = join(mkdtempSync(join(tmpdir(), "zm-dns-")), "resolv.conf");
  writeFileSync(conf, "# x\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch x\n nameserver 192.0.2.1\n");
  assert.deepEqual(systemResolvers(conf), ["10.0.0.2", "192.0.2.1"]);
  assert.deepEqual(systemResolvers(join(conf, "missing")), []);
});
