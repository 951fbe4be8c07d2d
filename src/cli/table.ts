import { stringify } from "yaml";
import { Codes, ZmError } from "../api/errors.js";

/** A plain aligned text table, as kubectl and istioctl print them. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? "").padEnd(widths[i]!)).join("   ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

/** Data as the user asked for it: `-o json`, `-o yaml`, or (no -o) the table. Any other -o is a usage error. */
export function printData(out: (line: string) => void, output: string | undefined, data: unknown, asTable: () => string): void {
  if (output === undefined) return out(asTable());
  if (output === "json") return out(JSON.stringify(data, null, 2));
  if (output === "yaml") return out(stringify(data).trimEnd());
  throw new ZmError(Codes.USAGE, `-o ${output}: the output formats are json and yaml (no -o: a table)`);
}
