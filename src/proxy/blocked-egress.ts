// Egress the proxy blocked (REGISTRY_ONLY: a host outside the registry or the
// workload's Sidecar scope), counted per destination between reports. The
// agent sends the counts to the control plane, which raises them as alerts:
// a workload reaching for a host it may not is what an operator wants to hear
// about, once per destination and interval rather than once per request.
import type { Decision } from "../policy/decision.js";

export interface BlockedEgress {
  host: string;
  port: number;
  protocol: "http" | "tls" | "tcp";
  count: number;
  reason: string;
  /** The resource that decided (a Sidecar, or meshConfig.outboundTrafficPolicy). */
  policy?: string;
  first: string;
  last: string;
}

/** Distinct destinations kept between reports; more are counted as dropped (a scan must not grow the proxy's memory). */
export const MAX_DESTINATIONS = 256;

export class BlockedEgressCounter {
  private byDestination = new Map<string, BlockedEgress>();
  private dropped = 0;

  add(host: string, port: number, protocol: BlockedEgress["protocol"], d: Pick<Decision, "reason" | "policy">, at: Date): void {
    const key = `${protocol} ${host}:${port}`;
    const seen = this.byDestination.get(key);
    if (seen) {
      seen.count++;
      seen.last = at.toISOString();
    } else if (this.byDestination.size < MAX_DESTINATIONS) {
      this.byDestination.set(key, { host, port, protocol, count: 1, reason: d.reason, policy: d.policy, first: at.toISOString(), last: at.toISOString() });
    } else this.dropped++;
  }

  /** What was counted since the last take (nothing: undefined), and starts again. */
  take(): { destinations: BlockedEgress[]; dropped: number } | undefined {
    if (!this.byDestination.size && !this.dropped) return undefined;
    const out = { destinations: [...this.byDestination.values()], dropped: this.dropped };
    this.byDestination = new Map();
    this.dropped = 0;
    return out;
  }
}
