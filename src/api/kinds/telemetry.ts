import type { Reader } from "../reader.js";
import type { Origin, Telemetry } from "../types.js";
import { readMeta, readSelector } from "./meta.js";

export function readTelemetry(doc: Reader, origin: Origin): Telemetry {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["selector", "targetRef", "targetRefs", "tracing", "metrics", "accessLogging"]);
  const sel = spec.field("selector").object(["matchLabels"]);
  const accessLogging = spec.field("accessLogging").list().map((a) => {
    a.object(["match", "providers", "disabled", "filter"]);
    return { providers: a.field("providers").list().map((p) => p.object(["name"]).field("name").string({ required: true }) ?? ""), disabled: a.field("disabled").bool() };
  });
  return { kind: "Telemetry", meta, origin, selector: sel.present ? readSelector(sel.field("matchLabels")) ?? {} : undefined, accessLogging };
}
