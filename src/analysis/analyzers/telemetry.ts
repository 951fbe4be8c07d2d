// Telemetry resources: access logging with no provider, selectors, several namespace-wide ones, and the deprecated Lightstep provider.
import type { Analyzer } from "../context.js";
import type { AnalysisObject } from "../objects.js";
import { arr, rec, selects, selectorString, str, strMap } from "../util.js";

const names = (list: AnalysisObject[]) => list.map((o) => o.name).sort();

// Access logging enabled with no providers, when the mesh has no default access-log provider, logs nothing.
export const provider: Analyzer = {
  name: "telemetry.ProviderAnalyzer",
  description: "Access logging enabled with no provider and no mesh default provider does nothing.",
  analyze(ctx) {
    if (arr(ctx.mesh.defaultProviders.accessLogging).length > 0) return;
    for (const t of ctx.objects.of("Telemetry")) {
      for (const l of arr(t.spec.accessLogging)) {
        if (l?.disabled === true) continue;
        if (arr(l?.providers).length === 0) ctx.report("InvalidTelemetryProvider", t, t.name, t.namespace);
      }
    }
  },
};

// A selector matching no pod does nothing; a pod selected by two Telemetries gets an arbitrary one.
export const telemetrySelector: Analyzer = {
  name: "telemetry.SelectorAnalyzer",
  description: "Telemetry selectors must match pods, and a pod must not be selected by two Telemetries.",
  analyze(ctx) {
    const byPod = new Map<AnalysisObject, AnalysisObject[]>();
    for (const t of ctx.objects.of("Telemetry")) {
      const selector = strMap(rec(t.spec.selector).matchLabels);
      if (Object.keys(selector).length === 0) continue;
      const pods = ctx.objects.of("Pod").filter((p) => p.namespace === t.namespace && selects(selector, p.labels));
      for (const p of pods) byPod.set(p, [...(byPod.get(p) ?? []), t]);
      if (pods.length === 0) ctx.report("ReferencedResourceNotFound", t, "selector", selectorString(selector));
    }
    for (const [pod, list] of byPod) {
      if (list.length > 1) for (const t of list) ctx.report("ConflictingTelemetryWorkloadSelectors", t, names(list), pod.namespace, pod.name);
    }
  },
};

// Istio applies one selector-less Telemetry per namespace; with several, which one wins is undefined.
export const defaultSelector: Analyzer = {
  name: "telemetry.DefaultSelectorAnalyzer",
  description: "At most one selector-less Telemetry per namespace.",
  analyze(ctx) {
    const byNamespace = new Map<string, AnalysisObject[]>();
    for (const t of ctx.objects.of("Telemetry")) {
      if (t.spec.selector !== undefined && t.spec.selector !== null) continue;
      byNamespace.set(t.namespace, [...(byNamespace.get(t.namespace) ?? []), t]);
    }
    for (const [ns, list] of byNamespace) if (list.length > 1) for (const t of list) ctx.report("MultipleTelemetriesWithoutWorkloadSelectors", t, names(list), ns);
  },
};

// Tracing through a Lightstep extension provider is deprecated in favour of OpenTelemetry.
export const lightstep: Analyzer = {
  name: "telemetry.LightstepAnalyzer",
  description: "Telemetry using a Lightstep extension provider is deprecated.",
  analyze(ctx) {
    const lightstepProviders = new Set(ctx.mesh.extensionProviders.filter((p) => p.lightstep !== undefined && p.lightstep !== null).map((p) => str(p.name)));
    if (lightstepProviders.size === 0) return;
    for (const t of ctx.objects.of("Telemetry")) {
      for (const tracing of arr(t.spec.tracing)) {
        for (const p of arr(tracing?.providers)) {
          if (lightstepProviders.has(str(p?.name))) ctx.report("Deprecated", t, `The Lightstep provider ${str(p.name)} is deprecated, please migrate to OpenTelemetry provider.`);
        }
      }
    }
  },
};
