// VirtualService header operations applied to a header map, as Envoy applies
// them: removals first, then `set` (overwrite), then `add` (append to a
// present value). Pure: the static engine and the live proxies share it.
import type { HeaderOperations, HeaderRules } from "../api/types.js";

type HeaderValue = string | number | string[] | undefined;

/** A copy of `headers` with the operations applied; a list value (set-cookie) gets an added value as one more entry. */
export function applyHeaderOps<H extends Record<string, HeaderValue>>(headers: H, ops: readonly (HeaderOperations | undefined)[]): H {
  const out: Record<string, HeaderValue> = { ...headers };
  for (const op of ops) {
    if (!op) continue;
    for (const name of op.remove) delete out[name];
    for (const [name, value] of Object.entries(op.set)) out[name] = value;
    for (const [name, value] of Object.entries(op.add)) {
      const had = out[name];
      out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : `${had},${value}`;
    }
  }
  return out as H;
}

/** The operations for one direction, the destination's before the route's (the more specific first, as Envoy orders them). */
export function headerOpsFor(direction: "request" | "response", destination: HeaderRules | undefined, route: HeaderRules | undefined): HeaderOperations[] {
  return [destination?.[direction], route?.[direction]].filter((o): o is HeaderOperations => o !== undefined);
}

/** A short description for decision trails, e.g. "set x-a, add x-b, remove x-c". */
export function describeHeaderOps(ops: readonly HeaderOperations[]): string {
  const parts: string[] = [];
  for (const op of ops) {
    if (Object.keys(op.set).length) parts.push(`set ${Object.keys(op.set).join(", ")}`);
    if (Object.keys(op.add).length) parts.push(`add ${Object.keys(op.add).join(", ")}`);
    if (op.remove.length) parts.push(`remove ${op.remove.join(", ")}`);
  }
  return parts.join("; ");
}
