import type { Reader } from "../reader.js";
import { ISTIO_METRICS, type Origin, type Telemetry, type WorkloadMode } from "../types.js";
import { readMeta, readSelector } from "./meta.js";

const MODES = ["CLIENT_AND_SERVER", "CLIENT", "SERVER"] as const;

const providersOf = (r: Reader) => r.field("providers").list().map((p) => p.object(["name"]).field("name").string({ required: true }) ?? "");

/** A `match` block's mode (absent: both sides). */
const modeOf = (r: Reader): WorkloadMode => r.field("match").object(["mode", "metric", "customMetric", "filter"]).field("mode").enumOf(MODES, "CLIENT_AND_SERVER")!;

/** `disabled` as written: undefined when absent, so a lower level that does not say inherits. */
const disabledOf = (r: Reader) => (r.field("disabled").present ? r.field("disabled").bool() : undefined);

export function readTelemetry(doc: Reader, origin: Origin): Telemetry {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["selector", "targetRef", "targetRefs", "tracing", "metrics", "accessLogging"]);
  const sel = spec.field("selector").object(["matchLabels"]);
  const accessLogging = spec.field("accessLogging").list().map((a) => {
    a.object(["match", "providers", "disabled", "filter"]);
    return { providers: providersOf(a), mode: modeOf(a), disabled: disabledOf(a) };
  });
  const metrics = spec.field("metrics").list().map((m) => {
    m.object(["providers", "overrides", "reportingInterval"]);
    const overrides = m.field("overrides").list().map((o) => {
      o.object(["match", "disabled", "tagOverrides"]);
      const match = o.field("match");
      const metric = match.field("customMetric").present ? "custom" as const : match.field("metric").enumOf(ISTIO_METRICS, "ALL_METRICS")!;
      return { metric, mode: modeOf(o), disabled: disabledOf(o) };
    });
    return { providers: providersOf(m), overrides };
  });
  return { kind: "Telemetry", meta, origin, selector: sel.present ? readSelector(sel.field("matchLabels")) ?? {} : undefined, accessLogging, metrics };
}
