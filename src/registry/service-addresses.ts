// Virtual addresses for services, as Kubernetes and Istio give them: a Service's clusterIP (its own, or one from
// the service CIDR), a ServiceEntry's `addresses` (or, as Istio's DNS auto-allocation does, one from 240.240.0.0/16).
// Nothing routes to them: a pod's sidecar captures the connection and reads where it was going. Deterministic: the
// same services get the same addresses in every snapshot and on every node (a hash, then the next free one).
import { createHash } from "node:crypto";
import { isIPv4 } from "node:net";

/** Kubernetes' default service CIDR (the first 64 Ki of it). */
export const SERVICE_CIDR = "10.96.0.0/16";
/** Istio's range for ServiceEntry addresses it allocates. */
export const AUTO_ALLOCATE_CIDR = "240.240.0.0/16";

export interface AddressRequest {
  /** Stable name: "Service/ns/name" or "ServiceEntry/ns/name/host". */
  key: string;
  /** Addresses the resource gives (exact IPv4 only; CIDR ranges match nothing here). */
  given: string[];
  /** Where an address is allocated when none is given; none: the service gets none (a headless Service). */
  pool?: "service" | "auto";
}

const base = (cidr: string) => cidr.split(".").slice(0, 2).join(".");

/** The addresses of each request, by key. */
export function allocateAddresses(requests: AddressRequest[]): Map<string, string[]> {
  const taken = new Set(requests.flatMap((r) => r.given.filter((a) => isIPv4(a))));
  const out = new Map<string, string[]>();
  // Sorted, so the order resources arrive in does not change who gets which address on a collision.
  for (const r of [...requests].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const given = r.given.filter((a) => isIPv4(a));
    if (given.length || !r.pool) {
      out.set(r.key, given);
      continue;
    }
    const prefix = base(r.pool === "service" ? SERVICE_CIDR : AUTO_ALLOCATE_CIDR);
    const h = createHash("sha256").update(r.key).digest().readUInt16BE(0);
    // .0.0, .0.1 (the network and the DNS server's conventional address) and x.255 are never handed out.
    for (let i = 0; i < 65_536; i++) {
      const n = (h + i) % 65_536;
      const addr = `${prefix}.${n >> 8}.${n & 0xff}`;
      if (n < 2 || (n & 0xff) === 255 || taken.has(addr)) continue;
      taken.add(addr);
      out.set(r.key, [addr]);
      break;
    }
  }
  return out;
}
