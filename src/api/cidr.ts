import { BlockList, isIP } from "node:net";

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

/** Does `ip` fall inside any of the (validated) blocks? */
export function ipInBlocks(ip: string | undefined, blocks: readonly string[]): boolean {
  if (!ip) return false;
  const family = isIP(ip);
  if (!family) return false;
  const list = new BlockList();
  for (const b of blocks) {
    const [addr, bits] = b.split("/");
    const fam = isIP(addr!) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(addr!, fam);
    else list.addSubnet(addr!, Number(bits), fam);
  }
  return list.check(ip, family === 6 ? "ipv6" : "ipv4");
}
