// A pod's network against the real kernel: made, shown, and removed without a trace (also what a crashed run left).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { podsUnavailable } from "./available.js";
import { addressing, createPodNetwork, ensureBridge, deletePodNetwork, freePodCidr, netnsName, podAddress, removeBridge, removeStalePods, sh } from "./pod-network.js";

const capture = { inboundPort: 15006, outboundPort: 15001, proxyUid: 1337, proxyGid: 1337, excludeInboundPorts: [15090], excludeOutbound: [] };

test("pod network: addresses from the CIDR, the bridge's first; anything else is refused", () => {
  const net = { node: "n1", podCidr: "10.244.7.0/24" };
  assert.equal(addressing(net).gateway, "10.244.7.1");
  assert.match(addressing(net).bridge, /^zmbr[0-9a-f]{8}$/);
  assert.notEqual(addressing(net).bridge, addressing({ ...net, node: "n2" }).bridge, "two nodes on one machine never share a bridge");
  assert.equal(podAddress(net, 2), "10.244.7.2");
  assert.throws(() => podAddress(net, 1));
  assert.throws(() => podAddress(net, 255));
  assert.throws(() => addressing({ node: "x", podCidr: "10.244.7.0/16" }), /a \/24 network address is required/);
  assert.throws(() => addressing({ node: "x", podCidr: "10.244.7.5/24" }), /a \/24 network address is required/);
  assert.notEqual(netnsName(net, "a/b"), netnsName({ ...net, node: "n2" }, "a/b"));
  assert.ok(netnsName(net, "a/b").length <= 15 + 5);
});

test("pod network: made and removed without a trace; what a crashed run left is removed on the next start", { skip: podsUnavailable() }, async () => {
  const net = { node: `pn-${process.pid}`, podCidr: await freePodCidr() };
  await ensureBridge(net);
  const ns = await createPodNetwork(net, { pod: "a/one", ip: podAddress(net, 2), capture, dns: { nameserver: addressing(net).gateway, search: ["a.svc.cluster.local"] } });
  try {
    assert.match(await sh("ip", ["netns", "list"]), new RegExp(`^${ns}\\b`, "m"));
    assert.match(await sh("ip", ["-n", ns, "-4", "-o", "addr", "show", "eth0"]), new RegExp(`inet ${podAddress(net, 2).replace(/\./g, "\\.")}/24`));
    assert.match(await sh("ip", ["-n", ns, "route", "show", "default"]), new RegExp(`via ${addressing(net).gateway}`));
    assert.match(await sh("ip", ["netns", "exec", ns, "iptables", "-t", "nat", "-S", "ZM_REDIRECT"]), /REDIRECT --to-ports 15001/);
    assert.match(await sh("ip", ["netns", "exec", ns, "cat", "/etc/resolv.conf"]), /search a\.svc\.cluster\.local/);
    // The same pod again is refused, and the one that runs is left alone.
    await assert.rejects(createPodNetwork(net, { pod: "a/one", ip: podAddress(net, 3), capture, dns: { nameserver: "10.0.0.1", search: [] } }), /netns add/);
    assert.match(await sh("ip", ["-n", ns, "-4", "-o", "addr", "show", "eth0"]), /inet /);
    // One that fails half-way (an address that is no IPv4 address) leaves nothing behind.
    await assert.rejects(createPodNetwork(net, { pod: "a/two", ip: "not-an-address", capture, dns: { nameserver: "10.0.0.1", search: [] } }));
    assert.doesNotMatch(await sh("ip", ["netns", "list"]), new RegExp(`^${netnsName(net, "a/two")}\\b`, "m"));
    assert.equal(existsSync(`/etc/netns/${netnsName(net, "a/two")}`), false);
    // As if the node agent crashed: the next start finds and removes its pods, and only its own.
    assert.deepEqual(await removeStalePods({ ...net, node: "someone-else" }), []);
    assert.deepEqual(await removeStalePods(net), [ns]);
    assert.doesNotMatch(await sh("ip", ["netns", "list"]), new RegExp(`^${ns}\\b`, "m"));
    assert.equal(existsSync(`/etc/netns/${ns}`), false);
  } finally {
    await deletePodNetwork(net, "a/one");
    await removeBridge(net);
  }
  assert.doesNotMatch(await sh("ip", ["link", "show"]), new RegExp(addressing(net).bridge));
});
