// The newest refusals the proxies reported (proxy/denials.ts), for the admin
// API and the dashboard's denials page. A report is checked field by field
// before it is kept: a proxy is authenticated, not trusted to send
// well-formed data, and nothing it sends grows the control plane's memory
// beyond the kept count.
import type { Denial } from "../wire/protocol.js";
/** One kind of refusal as a proxy reported it (the wire shape is the proxy's, proxy/denials.ts), with who and when. */
export type DenialRecord = Omit<Denial, "direction" | "trail"> & {
  /** When the control plane took the report. */
  time: string;
  proxy: string;
  direction: string;
  trail: { stage: string; at: string; message: string; policy?: string; rule?: string }[];
};

/** Denials kept for the admin API (newest). */
export const KEPT_DENIALS = 500;

const text = (v: unknown, max = 400): string | undefined => (typeof v === "string" ? v.slice(0, max) : undefined);

export class DenialLog {
  private readonly kept: DenialRecord[] = [];

  /** The well-formed denials of one proxy's report; the rest is skipped. */
  static fromReport(proxy: string, report: unknown, now: Date): DenialRecord[] {
    const list = (report as { denials?: unknown }).denials;
    if (!Array.isArray(list)) return [];
    const out: DenialRecord[] = [];
    for (const d of list.slice(0, 256) as Record<string, unknown>[]) {
      if (typeof d !== "object" || d === null) continue;
      const port = d.port;
      if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535 || !Number.isInteger(d.count) || (d.count as number) < 1) continue;
      const [direction, method, host, path, reason, answer] = [text(d.direction, 20), text(d.method, 20), text(d.host, 260), text(d.path), text(d.reason), text(d.answer, 40)];
      if (!direction || method === undefined || host === undefined || path === undefined || reason === undefined || !answer) continue;
      const trail = Array.isArray(d.trail)
        ? (d.trail.slice(0, 16) as Record<string, unknown>[]).filter((s) => typeof s === "object" && s !== null && typeof s.message === "string")
            .map((s) => ({ stage: text(s.stage, 40) ?? "", at: text(s.at, 200) ?? "", message: text(s.message)!, policy: text(s.policy, 300), rule: text(s.rule, 100) }))
        : [];
      out.push({
        time: now.toISOString(), proxy, direction, peer: text(d.peer, 300), method, host, port: port as number, path, code: text(d.code, 60), reason,
        policy: text(d.policy, 300), rule: text(d.rule, 100), answer, trail, count: d.count as number, first: text(d.first, 40) ?? now.toISOString(), last: text(d.last, 40) ?? now.toISOString(),
      });
    }
    return out;
  }

  add(records: DenialRecord[]): void {
    this.kept.push(...records);
    if (this.kept.length > KEPT_DENIALS) this.kept.splice(0, this.kept.length - KEPT_DENIALS);
  }

  /** Newest first. */
  list(): DenialRecord[] {
    return [...this.kept].reverse();
  }
}
