// Kubernetes Services: port names Istio cannot read a protocol from.
import type { Analyzer } from "../context.js";
import { arr, convertProtocol, intOrString, isIstioControlPlane, num, str, UNSUPPORTED } from "../util.js";

const MANAGED_GATEWAYS = new Set(["istio.io-gateway-controller", "istio.io-mesh-controller", "istio.io-eastwest-controller"]);

// Istio picks a port's protocol from its name prefix (or appProtocol); an unrecognised one is sniffed, and "tcp" on an ExternalName Service misroutes.
export const portName: Analyzer = {
  name: "service.PortNameAnalyzer",
  description: "Service port names should carry a protocol prefix (special rule for ExternalName services).",
  analyze(ctx) {
    for (const svc of ctx.objects.of("Service")) {
      if (isIstioControlPlane(svc) || MANAGED_GATEWAYS.has(svc.labels["gateway.istio.io/managed"] ?? "")) continue;
      const externalName = svc.spec.type === "ExternalName";
      for (const p of arr(svc.spec.ports)) {
        const name = str(p?.name);
        const protocol = convertProtocol(num(p?.port), name, str(p?.protocol), typeof p?.appProtocol === "string" ? p.appProtocol : undefined);
        if (protocol !== UNSUPPORTED && !(name === "tcp" && externalName)) continue;
        if (externalName) ctx.report("ExternalNameServiceTypeInvalidPortName", svc);
        else ctx.report("PortNameIsNotUnderNamingConvention", svc, name, num(p?.port), intOrString(p?.targetPort));
      }
    }
  },
};
