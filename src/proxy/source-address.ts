// How a proxy's connections are addressed. Each leaves from its workload's own address, so the next hop sees who
// called: ipBlocks and source.ip policies read the peer address, and on loopback an unbound socket would always
// be 127.0.0.1. And a host name is never followed to the node itself: a name that resolves to a loopback address
// (the machine's own hostname does, on Debian) would reach the control plane and every workload's ports.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP, isIPv4, isIPv6, type LookupFunction } from "node:net";
import { isNodeLocal } from "../api/cidr.js";

/** Socket options binding `local` as the source of a connection to `host` (none without an address, or across IP families). */
export function bindFrom(local: string | undefined, host: string): { localAddress?: string; family?: 4; lookup?: LookupFunction } {
  const guarded = isIP(host) ? {} : { lookup: awayFromNode };
  if (!local || !isIPv4(local) || isIPv6(host)) return guarded;
  // A host name must resolve to IPv4 for an IPv4 source to be bindable.
  return isIPv4(host) ? { localAddress: local } : { localAddress: local, family: 4, ...guarded };
}

/**
 * The source of a plaintext connection to `host`: the workload's own address, except toward that address itself in
 * a pod, where it is the application and the connection must leave from `appSource` (127.0.0.6) for the capture
 * to let it through rather than take it back to the proxy.
 */
export function plaintextSource(local: string | undefined, appSource: string | undefined, host: string): string | undefined {
  return appSource && host === local ? appSource : local;
}

/** DNS as usual, except that an answer naming the node itself is an error. */
const awayFromNode = ((hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
  dnsLookup(hostname, options, (err, address: string | LookupAddress[], family?: number) => {
    if (err) return callback(err, address, family);
    const all = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
    const local = all.find((a) => isNodeLocal(a.address));
    if (local) return callback(Object.assign(new Error(`${hostname} resolves to ${local.address}, the node itself: a proxy does not go there`), { code: "ENODELOCAL" }), address, family);
    callback(null, address, family);
  });
}) as unknown as LookupFunction;
