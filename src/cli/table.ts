/** A plain aligned text table, as kubectl and istioctl print them. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? "").padEnd(widths[i]!)).join("   ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
