// Deprecated fields and removed resource types.
import type { Analyzer } from "../context.js";
import { arr, rec, str } from "../util.js";

const REMOVED_CRDS = ["ClusterRbacConfig", "RbacConfig", "ServiceRole", "ServiceRoleBinding"].map((kind) => ({ group: "rbac.istio.io", kind }));

// fault.delay.percent was replaced by percentage, Sidecar egressProxy is ignored, and the rbac.istio.io types are gone.
export const deprecation: Analyzer = {
  name: "deprecation.DeprecationAnalyzer",
  description: "Use of deprecated fields (fault delay `percent`, Sidecar egressProxy) and removed rbac.istio.io CRDs.",
  analyze(ctx) {
    for (const vs of ctx.objects.of("VirtualService")) {
      for (const route of arr(vs.spec.http)) {
        if (Number(rec(rec(route?.fault).delay).percent ?? 0) > 0) ctx.report("Deprecated", vs, "HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage");
      }
    }
    for (const sc of ctx.objects.of("Sidecar")) {
      const egressProxy = rec(sc.spec.outboundTrafficPolicy).egressProxy;
      if (egressProxy !== undefined && egressProxy !== null) ctx.report("Deprecated", sc, "OutboundTrafficPolicy.EgressProxy ignored");
    }
    for (const crd of ctx.objects.of("CustomResourceDefinition")) {
      const group = str(crd.spec.group);
      const kind = str(rec(crd.spec.names).kind);
      for (const d of REMOVED_CRDS) if (d.group === group && d.kind === kind) ctx.report("Deprecated", crd, `Custom resource type ${group} ${kind} is removed`);
    }
  },
};
