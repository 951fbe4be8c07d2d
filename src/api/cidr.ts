import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";

/** Validates an IP address or CIDR block; returns an error message or undefined. */
export function checkCidr(s: string): string | undefined {
  const [addr, bits, extra] = s.split("/");
  if (extra !== undefined) return `"${s}" is not an IP address or CIDR block`;
  const family = isIP(addr ?? "");
  if (!family) return `"${s}" is not an IP address or CIDR block`;
  if (bits !== undefined) {
    const n = /^\d+$/.test(bits) ? Number(bits) : NaN;
    if (!(n >= 0 && n <= (family === 4 ? 32 : 128))) return `"${s}" has an invalid prefix length`;
  }
  return undefined;
}

const LOOPBACK = ["127.0.0.0/8", "0.0.0.0/32", "::1/128", "::/128", "::ffff:127.0.0.0/104", "::ffff:0.0.0.0/128"];

/**
 * A host that names the machine itself: a loopback or unspecified address, any address of the node's own
 * interfaces (an application bound to 0.0.0.0 answers on all of them), or `localhost` (its subdomains too,
 * RFC 6761). Expects WHATWG-parsed hosts: 0x7f.1, 2130706433 and 0177.0.0.1 are 127.0.0.1 by then.
 */
export function isNodeLocal(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "").replace(/%.*$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  return ipInBlocks(h, LOOPBACK) || nodeAddresses().has(h) || nodeAddresses().has(h.replace(/^::ffff:/, ""));
}

/** The node's own interface addresses, looked up again at most every 10 s (interfaces come and go). */
let interfaces: { at: number; addresses: Set<string> } | undefined;
function nodeAddresses(): Set<string> {
  if (!interfaces || Date.now() - interfaces.at > 10_000) {
    const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.toLowerCase().replace(/%.*$/, "")));
    interfaces = { at: Date.now(), addresses: new Set(addresses) };
  }
  return interfaces.addresses;
}

/** Block lists by the configuration's list of blocks, built once (a policy's ipBlocks are checked on every request). */
const lists = new WeakMap<readonly string[], BlockList>();

function blockList(blocks: readonly string[]): BlockList {
  let list = lists.get(blocks);
  if (list) return list;
  list = new BlockList();
  for (const b of blocks) {
    const [addr, bits] = b.split("/");
    const fam = isIP(addr!) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(addr!, fam);
    else list.addSubnet(addr!, Number(bits), fam);
  }
  lists.set(blocks, list);
  return list;
}

/** Does `ip` fall inside any of the (validated) blocks? */
export function ipInBlocks(ip: string | undefined, blocks: readonly string[]): boolean {
  if (!ip) return false;
  const family = isIP(ip);
  if (!family) return false;
  return blockList(blocks).check(ip, family === 6 ? "ipv6" : "ipv4");
}
