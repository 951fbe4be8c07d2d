// Every connection a proxy opens leaves from its workload's own address, so
// the next hop sees who called: ipBlocks and source.ip policies read the peer
// address, and on loopback an unbound socket would always be 127.0.0.1.
import { isIPv4, isIPv6 } from "node:net";

/** Socket options binding `local` as the source of a connection to `host` (none without an address, or across IP families). */
export function bindFrom(local: string | undefined, host: string): { localAddress?: string; family?: 4 } {
  if (!local || !isIPv4(local) || isIPv6(host)) return {};
  // A host name must resolve to IPv4 for an IPv4 source to be bindable.
  return isIPv4(host) ? { localAddress: local } : { localAddress: local, family: 4 };
}
