// Table tests for address blocks (AuthorizationPolicy ipBlocks) and for what names the node itself (passthrough).
import { test } from "node:test";
import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { checkCidr, ipInBlocks, isNodeLocal } from "./cidr.js";

test("checkCidr: addresses and blocks as Istio's ipBlocks take them", () => {
  const table: [string, boolean][] = [
    ["10.0.0.1", true], ["10.0.0.0/8", true], ["10.0.0.0/0", true], ["10.0.0.0/32", true], ["::1", true], ["fd00::/8", true], ["fd00::/128", true],
    ["10.0.0.0/33", false], ["fd00::/129", false], ["10.0.0.0/-1", false], ["10.0.0.0/8x", false], ["10.0.0.0/x8", false], ["10.0.0.0/", false],
    ["10.0.0.0/8/8", false], ["10.0.0.0/0x8", false], ["10.0.0.0/1e1", false], ["10.0.0.0/ 8", false], ["10.0.0", false], ["example.com", false], ["", false],
  ];
  for (const [s, ok] of table) assert.equal(checkCidr(s) === undefined, ok, s);
});

test("ipInBlocks: addresses in and out of blocks, both families", () => {
  const table: [string | undefined, string[], boolean][] = [
    ["10.1.2.3", ["10.0.0.0/8"], true], ["11.1.2.3", ["10.0.0.0/8"], false], ["10.1.2.3", ["10.1.2.3"], true], ["10.1.2.4", ["10.1.2.3"], false],
    ["fd00::5", ["fd00::/8"], true], ["fe00::5", ["fd00::/8"], false], ["fd00::5", ["10.0.0.0/8", "fd00::5"], true],
    [undefined, ["0.0.0.0/0"], false], ["not-an-ip", ["0.0.0.0/0"], false], ["10.1.2.3", [], false],
  ];
  for (const [ip, blocks, want] of table) assert.equal(ipInBlocks(ip, blocks), want, `${ip} in ${blocks.join(",")}`);
});

test("isNodeLocal: the machine itself in every form passthrough may be asked for, and nothing else", () => {
  const own = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address));
  const local = ["127.0.0.1", "127.255.0.9", "0.0.0.0", "::1", "[::1]", "::", "::ffff:127.0.0.1", "::1%lo", "[::1%lo]", "localhost", "LOCALHOST", "localhost.", "app.localhost", "api.app.LocalHost", ...own];
  const remote = ["10.0.0.1", "8.8.8.8", "::2", "fd12::1", "example.com", "localhost.example.com", "mylocalhost", "128.0.0.1", "1.0.0.127"];
  for (const h of local) assert.equal(isNodeLocal(h), true, h);
  for (const h of remote) assert.equal(isNodeLocal(h), own.includes(h), h);
});
