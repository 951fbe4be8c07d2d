// Sidecars: selectors that match nothing, pods claimed by several Sidecars, several namespace-wide Sidecars, and ambient workloads they cannot affect.
import type { Analyzer } from "../context.js";
import type { AnalysisObject } from "../objects.js";
import { namespaceInAmbient, podInAmbient, rec, selects, selectorString, strMap } from "../util.js";

const names = (list: AnalysisObject[]) => list.map((o) => o.name).sort();

// Istio applies one Sidecar per workload: a selector matching no pod does nothing, and overlapping ones or several selector-less ones in a namespace pick arbitrarily.
export const sidecarSelector: Analyzer = {
  name: "sidecar.SelectorAnalyzer",
  description: "Sidecar selectors must match pods, at most one Sidecar per pod / one selector-less per namespace, none in ambient.",
  analyze(ctx) {
    const byPod = new Map<AnalysisObject, AnalysisObject[]>();
    const byNamespace = new Map<string, AnalysisObject[]>();
    for (const sc of ctx.objects.of("Sidecar")) {
      const selector = strMap(rec(sc.spec.workloadSelector).labels);
      if (Object.keys(selector).length === 0) {
        byNamespace.set(sc.namespace, [...(byNamespace.get(sc.namespace) ?? []), sc]);
        continue;
      }
      const pods = ctx.objects.of("Pod").filter((p) => p.namespace === sc.namespace && selects(selector, p.labels));
      for (const p of pods) byPod.set(p, [...(byPod.get(p) ?? []), sc]);
      if (pods.length === 0) ctx.report("ReferencedResourceNotFound", sc, "selector", selectorString(selector));
    }
    const reported = new Set<AnalysisObject>();
    for (const [pod, list] of byPod) {
      const ambient = podInAmbient(pod);
      if (list.length === 1 && !ambient) continue;
      for (const sc of list) {
        if (ambient) {
          if (!reported.has(sc)) ctx.report("IneffectivePolicy", sc, "selected workload is in ambient mode, the policy has no impact");
          reported.add(sc);
        } else ctx.report("ConflictingSidecarWorkloadSelectors", sc, names(list), pod.namespace, pod.name);
      }
    }
    for (const [ns, list] of byNamespace) {
      if (namespaceInAmbient(ctx.objects.find("Namespace", "", ns))) {
        for (const sc of list) {
          if (!reported.has(sc)) ctx.report("IneffectivePolicy", sc, "namespace is in ambient mode, the policy has no impact");
          reported.add(sc);
        }
      } else if (list.length > 1) for (const sc of list) ctx.report("MultipleSidecarsWithoutWorkloadSelectors", sc, names(list), ns);
    }
  },
};
