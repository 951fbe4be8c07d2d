// AuthorizationPolicies: selectors that match no meshed workload, and source namespaces that do not exist.
import type { Analyzer } from "../context.js";
import { arr, inMesh, podInAmbient, rec, selects, selectorString, str, strMap } from "../util.js";

/** Does a namespace name match a policy's namespace expression ("*", "*suffix", "prefix*", or exact, case-insensitive)? */
function namespaceMatch(ns: string, exp: string): boolean {
  if (exp === "*") return true;
  if (exp.startsWith("*")) return ns.endsWith(exp.slice(1));
  if (exp.endsWith("*")) return ns.startsWith(exp.slice(0, -1));
  return ns.toLowerCase() === exp.toLowerCase();
}

// A policy whose selector (or namespace) has no meshed or ambient pod enforces nothing; a source namespace no Namespace matches is likely a typo.
export const authorizationPolicies: Analyzer = {
  name: "auth.AuthorizationPoliciesAnalyzer",
  description: "Policy selectors must match some pod; source namespaces named in rules must exist.",
  analyze(ctx) {
    // Namespace → the labels of its pods that a policy can act on.
    const podLabels = new Map<string, Record<string, string>[]>();
    for (const pod of ctx.objects.of("Pod")) {
      const list = podLabels.get(pod.namespace) ?? [];
      podLabels.set(pod.namespace, list);
      if (inMesh(pod, ctx)) list.push(pod.labels);
      if (podInAmbient(pod)) list.push(pod.labels);
    }
    const namespaces = ctx.objects.of("Namespace").map((n) => n.name);
    for (const ap of ctx.objects.of("AuthorizationPolicy")) {
      const hasSelector = ap.spec.selector !== undefined && ap.spec.selector !== null;
      const selector = strMap(rec(ap.spec.selector).matchLabels);
      if (ap.namespace === ctx.mesh.rootNamespace) {
        // A root-namespace policy applies mesh-wide: its selector may match pods anywhere.
        if (hasSelector && ![...podLabels.values()].some((l) => l.some((x) => selects(selector, x)))) ctx.report("NoMatchingWorkloadsFound", ap, selectorString(selector));
      } else if (!hasSelector) {
        if ((podLabels.get(ap.namespace) ?? []).length === 0) ctx.report("NoMatchingWorkloadsFound", ap, "");
      } else if (!(podLabels.get(ap.namespace) ?? []).some((x) => selects(selector, x))) ctx.report("NoMatchingWorkloadsFound", ap, selectorString(selector));
      for (const rule of arr(ap.spec.rules)) {
        for (const from of arr(rule?.from)) {
          const source = rec(from?.source);
          for (const ns of [...arr(source.namespaces), ...arr(source.notNamespaces)].map(str)) {
            if (!namespaces.some((n) => namespaceMatch(n, ns))) ctx.report("ReferencedResourceNotFound", ap, "namespace", ns);
          }
        }
      }
    }
  },
};
