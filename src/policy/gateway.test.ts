import { test } from "node:test";
import assert from "node:assert/strict";
import type { Gateway, GatewayServer, VirtualService } from "../api/types.js";
import { pickServerBySni, pickVirtualHost, type BoundServer, type VirtualHost } from "./gateway.js";

const server = (index: number, hosts: string[]): BoundServer => ({
  gateway: { meta: { name: "g", namespace: "ns" } } as Gateway,
  server: { index, hosts: hosts.map((host) => ({ namespace: "*", host })), port: { number: 443, name: `s${index}`, protocol: "HTTPS" } } as GatewayServer,
});

test("gateway: SNI picks the exact host, then the longest wildcard, then *", () => {
  const servers = [server(0, ["*"]), server(1, ["*.example.com"]), server(2, ["*.api.example.com"]), server(3, ["www.example.com"])];
  const table: [string, number | undefined][] = [
    ["www.example.com", 3], ["v1.api.example.com", 2], ["shop.example.com", 1], ["other.org", 0],
  ];
  for (const [sni, want] of table) assert.equal(pickServerBySni(servers, sni)?.server.index, want, sni);
  assert.equal(pickServerBySni([server(0, ["a.example.com"])], "b.example.com"), undefined);
});

test("gateway: virtual host choice follows Envoy's domain order and ignores the port", () => {
  const vh = (domain: string): VirtualHost => ({ domain, vs: { meta: { name: domain } } as VirtualService, bound: server(0, ["*"]) });
  const hosts = [vh("*"), vh("*.example.com"), vh("*.shop.example.com"), vh("www.shop.example.com")];
  const table: [string, string | undefined][] = [
    ["www.shop.example.com:8080", "www.shop.example.com"], ["api.shop.example.com", "*.shop.example.com"],
    ["example.com", "*"], ["x.example.com", "*.example.com"], ["WWW.SHOP.EXAMPLE.COM", "www.shop.example.com"],
  ];
  for (const [authority, want] of table) assert.equal(pickVirtualHost(hosts, authority)?.domain, want, authority);
  assert.equal(pickVirtualHost([vh("a.example.com")], "b.example.com"), undefined);
});
