// Egress the proxy blocked (REGISTRY_ONLY: a host outside the registry or the
// workload's Sidecar scope), counted per destination between reports. The
// agent sends the counts to the control plane, which raises them as alerts:
// a workload reaching for a host it may not is what an operator wants to hear
// about, once per destination and interval rather than once per request.
import type { Decision } from "../policy/decision.js";
import { ReportCounts } from "./report-counts.js";

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
  private readonly counts = new ReportCounts<BlockedEgress>(MAX_DESTINATIONS);

  add(host: string, port: number, protocol: BlockedEgress["protocol"], d: Pick<Decision, "reason" | "policy">, at: Date): void {
    this.counts.add(`${protocol} ${host}:${port}`, at, () => ({ host, port, protocol, reason: d.reason, policy: d.policy }));
  }

  /** What was counted since the last take (nothing: undefined), and starts again. */
  take(): { destinations: BlockedEgress[]; dropped: number } | undefined {
    const t = this.counts.take();
    return t && { destinations: t.items, dropped: t.dropped };
  }
}
