import { test } from "node:test";
import assert from "node:assert/strict";
import { captureRules, removalRules } from "./capture.js";

const OPTS = { inboundPort: 15006, outboundPort: 15001, proxyUid: 1337, proxyGid: 1337, excludeInboundPorts: [15090, 15021, 15020], excludeOutbound: [{ address: "10.250.0.1", port: 53 }] };

test("capture rules: istio-iptables' nat table, in its order", () => {
  assert.equal(captureRules(OPTS), [
    "*nat",
    ":ZM_INBOUND - [0:0]", ":ZM_IN_REDIRECT - [0:0]", ":ZM_OUTPUT - [0:0]", ":ZM_REDIRECT - [0:0]", ":ZM_DNS - [0:0]",
    "-A ZM_INBOUND -p tcp --dport 15020 -j RETURN",
    "-A ZM_INBOUND -p tcp --dport 15021 -j RETURN",
    "-A ZM_INBOUND -p tcp --dport 15090 -j RETURN",
    "-A ZM_INBOUND -p tcp -j ZM_IN_REDIRECT",
    "-A ZM_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
    "-A PREROUTING -p tcp -j ZM_INBOUND",
    "-A OUTPUT -p tcp -j ZM_OUTPUT",
    "-A ZM_OUTPUT -p tcp -d 10.250.0.1/32 --dport 53 -j RETURN",
    "-A ZM_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
    "-A ZM_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ZM_IN_REDIRECT",
    "-A ZM_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN",
    "-A ZM_OUTPUT -m owner --uid-owner 1337 -j RETURN",
    "-A ZM_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j ZM_IN_REDIRECT",
    "-A ZM_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN",
    "-A ZM_OUTPUT -m owner --gid-owner 1337 -j RETURN",
    "-A ZM_OUTPUT -d 127.0.0.1/32 -j RETURN",
    "-A ZM_OUTPUT -j ZM_REDIRECT",
    "-A ZM_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
    "COMMIT", "",
  ].join("\n"));
});

test("capture rules: ports and owner as given, excluded ports once each; removal undoes every jump and chain", () => {
  const r = captureRules({ ...OPTS, inboundPort: 16006, outboundPort: 16001, proxyUid: 2000, proxyGid: 2001, excludeInboundPorts: [9, 9, 8], excludeOutbound: [] });
  assert.match(r, /REDIRECT --to-ports 16006\n/);
  assert.match(r, /REDIRECT --to-ports 16001\n/);
  assert.match(r, /--uid-owner 2000 -j RETURN/);
  assert.match(r, /--gid-owner 2001 -j RETURN/);
  assert.equal(r.match(/--dport 9 /g)?.length, 1);
  assert.ok(r.indexOf("--dport 8 ") < r.indexOf("--dport 9 "));
  assert.doesNotMatch(r, /--dport 53/);
  const undo = removalRules();
  assert.doesNotMatch(undo, /-D OUTPUT -p udp/);
  for (const c of ["ZM_INBOUND", "ZM_IN_REDIRECT", "ZM_OUTPUT", "ZM_REDIRECT", "ZM_DNS"]) {
    assert.match(undo, new RegExp(`-F ${c}\\n`));
    assert.match(undo, new RegExp(`-X ${c}\\n`));
  }
  assert.match(undo, /-D PREROUTING -p tcp -j ZM_INBOUND\n-D OUTPUT -p tcp -j ZM_OUTPUT/);
});

test("capture rules: DNS capture sends the application's queries to the DNS proxy's port, never the proxy's own", () => {
  const r = captureRules({ ...OPTS, dnsProxy: { nameserver: "10.250.0.1", port: 15053 } });
  assert.match(r, /-A OUTPUT -p udp -d 10\.250\.0\.1\/32 --dport 53 -j ZM_DNS\n-A ZM_DNS -m owner --uid-owner 1337 -j RETURN\n-A ZM_DNS -m owner --gid-owner 1337 -j RETURN\n-A ZM_DNS -p udp -j DNAT --to-destination 10\.250\.0\.1:15053\nCOMMIT/);
  assert.match(removalRules({ dnsProxy: { nameserver: "10.250.0.1", port: 15053 } }), /-D OUTPUT -p udp -d 10\.250\.0\.1\/32 --dport 53 -j ZM_DNS\n/);
});
