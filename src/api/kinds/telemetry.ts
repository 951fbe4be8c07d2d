import type { Reader } from "../reader.js";
import { ISTIO_METRICS, type Origin, type Telemetry, type WorkloadMode } from "../types.js";
import { readMeta, readPolicyTarget } from "./meta.js";

const MODES = ["CLIENT_AND_SERVER", "CLIENT", "SERVER"] as const;

/** Providers by name; a name is required and not empty (the CRD's minLength). */
const providersOf = (r: Reader) => r.field("providers").list().map((p) => {
  const name = p.object(["name"]).field("name").string({ required: true }) ?? "";
  if (p.field("name").present && name === "") p.field("name").error("must not be empty");
  return name;
});

/** A `match` block's mode (absent: both sides). */
const modeOf = (r: Reader): WorkloadMode => r.field("match").object(["mode", "metric", "customMetric", "filter"]).field("mode").enumOf(MODES, "CLIENT_AND_SERVER")!;

/** `disabled` as written: undefined when absent, so a lower level that does not say inherits. */
const disabledOf = (r: Reader) => (r.field("disabled").present ? r.field("disabled").bool() : undefined);

export function readTelemetry(doc: Reader, origin: Origin): Telemetry {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["selector", "targetRef", "targetRefs", "tracing", "metrics", "accessLogging"]);
  const { selector, targets } = readPolicyTarget(spec);
  const targeted = targets.length > 0 ? { targeted: true } : {};
  const accessLogging = spec.field("accessLogging").list().map((a) => {
    a.object(["match", "providers", "disabled", "filter"]);
    return { providers: providersOf(a), mode: modeOf(a), disabled: disabledOf(a) };
  });
  spec.field("tracing").list().forEach(readTracing);
  const metrics = spec.field("metrics").list().map((m) => {
    m.object(["providers", "overrides", "reportingInterval"]);
    const overrides = m.field("overrides").list().map((o) => {
      o.object(["match", "disabled", "tagOverrides"]);
      const match = o.field("match");
      if (match.field("customMetric").present && !match.field("customMetric").string()) match.field("customMetric").error("must not be empty");
      readTagOverrides(o.field("tagOverrides"));
      const metric = match.field("customMetric").present ? "custom" as const : match.field("metric").enumOf(ISTIO_METRICS, "ALL_METRICS")!;
      return { metric, mode: modeOf(o), disabled: disabledOf(o) };
    });
    return { providers: providersOf(m), overrides };
  });
  return { kind: "Telemetry", meta, origin, selector, ...targeted, accessLogging, metrics };
}

/** `tagOverrides`: UPSERT needs a value, REMOVE takes none (the CRD's rules). Recorded, not applied: zeromesh's metrics keep Istio's standard labels. */
function readTagOverrides(r: Reader): void {
  for (const tag of r.object().keys()) {
    const t = r.field(tag).object(["operation", "value"]);
    const op = t.field("operation").enumOf(["UPSERT", "REMOVE"] as const, "UPSERT");
    const value = t.field("value").string();
    if (op === "UPSERT" && !value) t.error("value must be set when operation is UPSERT");
    if (op === "REMOVE" && value !== undefined) t.error("value must not be set when operation is REMOVE");
  }
}

/** `tracing` is checked as Istio's validateTelemetryTracing does (zeromesh exports no traces). */
function readTracing(t: Reader): void {
  t.object(["match", "providers", "customTags", "disableSpanReporting", "randomSamplingPercentage", "useRequestIdForTraceSampling", "enableIstioTags"]);
  modeOf(t);
  providersOf(t);
  t.field("randomSamplingPercentage").number({ min: 0, max: 100 });
  const tags = t.field("customTags").object();
  for (const name of tags.keys()) {
    const tag = tags.field(name);
    if (!tag.present) {
      tag.error("tag must have a value");
      continue;
    }
    tag.object(["literal", "environment", "header"]);
    if (tag.keys().length !== 1) tag.error("tag must set exactly one of literal, environment, header");
  }
}
