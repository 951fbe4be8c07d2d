// Policies and Gateway API gateways.
import type { Analyzer } from "../context.js";
import { rec, str, strMap } from "../util.js";

const GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name";

// Pods deployed for a Gateway API gateway are addressed by targetRef; a label selector that picks them has no effect there.
export const k8sGatewaySelector: Analyzer = {
  name: "k8sgateway.SelectorAnalyzer",
  description: "Policies that select Gateway-API gateway pods by labels should use targetRef instead.",
  analyze(ctx) {
    const gatewayPods = ctx.objects.of("Pod").filter((p) => GATEWAY_NAME in p.labels);
    for (const kind of ["AuthorizationPolicy", "RequestAuthentication", "Telemetry", "WasmPlugin"]) {
      for (const policy of ctx.objects.of(kind)) {
        if (policy.spec.targetRef !== undefined && policy.spec.targetRef !== null) continue;
        if (policy.spec.selector === undefined || policy.spec.selector === null) continue;
        const selector = strMap(rec(policy.spec.selector).matchLabels);
        for (const pod of gatewayPods) {
          if (pod.namespace !== policy.namespace) continue;
          if (Object.entries(selector).every(([k, v]) => pod.labels[k] === v)) ctx.report("IneffectiveSelector", policy, str(pod.labels[GATEWAY_NAME]));
        }
      }
    }
  },
};
