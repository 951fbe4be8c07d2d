import { describeOutcome, type Outcome } from "../policy/decision.js";
import type { Expect } from "./model.js";

export function describeExpect(e: Expect): string {
  const parts: string[] = [];
  if (e.error) parts.push(`error ${e.error}`);
  if (e.status) parts.push(`HTTP ${e.status.join(" or ")}`);
  if (e.bodyContains !== undefined) parts.push(`body containing ${JSON.stringify(e.bodyContains)}`);
  if (e.bodyNotContains !== undefined) parts.push(`body without ${e.bodyNotContains.map((b) => JSON.stringify(b)).join(" or ")}`);
  if (e.headers) parts.push(`headers ${JSON.stringify(e.headers)}`);
  if (e.echo !== undefined) parts.push(e.echo ? "echo" : "no echo");
  return parts.join(", ");
}

/** Returns undefined when the outcome meets the expectation, else what differs. */
export function checkExpect(e: Expect, o: Outcome): string | undefined {
  const seen = describeOutcome(o);
  if (e.error) return o.kind === "error" && o.error === e.error ? undefined : `got ${seen}`;
  if (e.echo !== undefined) {
    const echoed = o.kind === "echo";
    if (echoed !== e.echo) return `got ${seen}`;
  }
  if (e.status || e.bodyContains !== undefined || e.bodyNotContains !== undefined || e.headers) {
    if (o.kind !== "response") return `got ${seen}`;
    if (e.status && !e.status.includes(o.status)) return `got HTTP ${o.status}`;
    if (e.bodyContains !== undefined && !(o.body ?? "").includes(e.bodyContains)) return `got HTTP ${o.status} with body ${JSON.stringify((o.body ?? "").slice(0, 200))}`;
    const found = e.bodyNotContains?.find((b) => (o.body ?? "").includes(b));
    if (found !== undefined) return `got HTTP ${o.status} with a body containing ${JSON.stringify(found)}`;
    for (const [k, v] of Object.entries(e.headers ?? {})) {
      const got = Object.entries(o.headers ?? {}).find(([hk]) => hk.toLowerCase() === k.toLowerCase())?.[1];
      if (got !== v) return `got header ${k}: ${got === undefined ? "(absent)" : JSON.stringify(got)}`;
    }
  }
  return undefined;
}
