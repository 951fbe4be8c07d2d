// Requests and connections the proxy refused, counted per kind of refusal
// between reports, each with one example and the decision's trail. The agent
// sends them to the control plane, which keeps the newest for the dashboard's
// denials page: who was refused, what, and which policy and rule decided.
// Bounded like blocked egress: a scan or a flood of denials must not grow the
// proxy's memory.
import type { Decision } from "../policy/decision.js";
import type { Denial } from "../wire/protocol.js";
import type { Request } from "../policy/request.js";
import { ReportCounts } from "./report-counts.js";

/** Distinct refusals kept between reports; more are counted as dropped. */
export const MAX_DENIALS = 128;
const MAX_TEXT = 300;
const MAX_STEPS = 16;

const clip = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s);

export class DenialCounter {
  private readonly counts = new ReportCounts<Denial>(MAX_DENIALS);

  /** Counts `d` if it refused (an allowed decision costs nothing here: this runs for every request). */
  add(direction: Denial["direction"], request: Pick<Request, "method" | "host" | "port" | "path">, d: Decision, peer: string | undefined, at?: Date): void {
    if (d.allow) return;
    at ??= new Date();
    const o = d.outcome;
    const answer = o.kind === "response" ? `HTTP ${o.status}` : o.kind === "error" ? o.error : o.kind;
    this.counts.add(`${direction} ${peer ?? ""} ${request.host}:${request.port} ${d.code ?? ""} ${d.policy ?? ""} ${d.rule ?? ""} ${answer}`, at, () => ({
      direction, peer, method: request.method, host: request.host, port: request.port, path: clip(request.path), code: d.code, reason: clip(d.reason), policy: d.policy, rule: d.rule, answer,
      trail: d.trail.slice(-MAX_STEPS).map((s) => ({ stage: s.stage, at: s.at, message: clip(s.message), policy: s.policy, rule: s.rule })),
    }));
  }

  /** What was counted since the last take (nothing: undefined), and starts again. */
  take(): { denials: Denial[]; dropped: number } | undefined {
    const t = this.counts.take();
    return t && { denials: t.items, dropped: t.dropped };
  }
}
