import type { TrailStep } from "../policy/decision.js";

export interface ProbeResult {
  file: string;
  step: string;
  probe: string;
  pass: boolean;
  expected?: string;
  seen?: string;
  trail?: TrailStep[];
  note?: string;
  /** Recent access-log decisions from the live proxies, on failure. */
  logs?: string[];
}

export function formatTrail(trail: readonly TrailStep[], indent = "    "): string {
  return trail.map((s) => `${indent}${s.shadow ? "(shadow) " : ""}[${s.stage}] ${s.at}: ${s.message}${s.policy && !s.message.includes(s.policy) ? ` — ${s.policy}${s.rule ? ` ${s.rule}` : ""}` : ""}`).join("\n");
}

export function formatResult(r: ProbeResult, verbose = false): string {
  const head = `${r.pass ? "PASS" : "FAIL"} ${r.file} › ${r.step} › ${r.probe}`;
  if (r.pass && !verbose) return head;
  const lines = [head];
  if (!r.pass) lines.push(`    expected ${r.expected}; ${r.seen}`);
  if (r.note) lines.push(`    ${r.note}`);
  if (r.trail?.length) lines.push(`    decision trail (engine):\n${formatTrail(r.trail, "      ")}`);
  if (r.logs?.length) lines.push(`    proxies' access log:\n${r.logs.map((l) => `      ${l}`).join("\n")}`);
  return lines.join("\n");
}

export function summaryLine(results: ProbeResult[]): string {
  const passed = results.filter((r) => r.pass).length;
  return `${passed} passed, ${results.length - passed} failed`;
}
