// Alerts the control plane raises from what proxies report: today, egress
// that REGISTRY_ONLY blocked. Each is also an audit line; the newest are kept
// for `zeromesh alerts`. A report is checked field by field before it is
// believed: a proxy is authenticated, not trusted to send well-formed data.
export interface EgressAlert {
  time: string;
  event: "egress-blocked";
  proxy: string;
  host: string;
  port: number;
  protocol: string;
  count: number;
  reason: string;
  policy?: string;
  first: string;
  last: string;
}

/** Alerts kept for the admin API; older ones remain in the audit trail. */
export const KEPT_ALERTS = 500;

export class AlertLog {
  private readonly alerts: EgressAlert[] = [];

  /** The alerts in one proxy's report of blocked egress; what is malformed is skipped. */
  static fromReport(proxy: string, report: unknown, now: Date): EgressAlert[] {
    const r = report as { destinations?: unknown; dropped?: unknown };
    if (!Array.isArray(r.destinations)) return [];
    const out: EgressAlert[] = [];
    for (const d of r.destinations.slice(0, 1000) as Record<string, unknown>[]) {
      if (typeof d !== "object" || d === null) continue;
      const { host, port, protocol, count, reason, policy, first, last } = d;
      const portOk = Number.isInteger(port) && (port as number) >= 0 && (port as number) <= 65535;
      if (typeof host !== "string" || !portOk || typeof protocol !== "string" || !Number.isInteger(count) || (count as number) < 1 || typeof reason !== "string") continue;
      const str = (v: unknown) => (typeof v === "string" ? v : undefined);
      out.push({ time: now.toISOString(), event: "egress-blocked", proxy, host, port: port as number, protocol, count: count as number, reason, policy: str(policy), first: str(first) ?? now.toISOString(), last: str(last) ?? now.toISOString() });
    }
    if (Number.isInteger(r.dropped) && (r.dropped as number) > 0) {
      out.push({ time: now.toISOString(), event: "egress-blocked", proxy, host: "*", port: 0, protocol: "*", count: r.dropped as number, reason: "more blocked destinations than a proxy counts between reports", first: now.toISOString(), last: now.toISOString() });
    }
    return out;
  }

  add(alerts: EgressAlert[]): void {
    this.alerts.push(...alerts);
    if (this.alerts.length > KEPT_ALERTS) this.alerts.splice(0, this.alerts.length - KEPT_ALERTS);
  }

  /** Oldest first. */
  list(): EgressAlert[] {
    return [...this.alerts];
  }
}
