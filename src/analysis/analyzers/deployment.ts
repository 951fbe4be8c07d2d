// Deployments: the proxy's reserved UID, and the Services that select a Deployment's pods disagreeing on ports.
import type { Analyzer } from "../context.js";
import type { AnalysisObject } from "../objects.js";
import { arr, fullName, inMesh, intOrString, isIstioControlPlane, num, podTemplate, rec, selects, str, strMap } from "../util.js";

const PROXY_UID = 1337;

// UID 1337 is the sidecar's: traffic from an application running as it bypasses the proxy's redirection.
export const applicationUID: Analyzer = {
  name: "applicationUID.Analyzer",
  description: "Application containers must not run as UID 1337 (the proxy's UID).",
  analyze(ctx) {
    for (const o of [...ctx.objects.of("Pod"), ...ctx.objects.of("Deployment")]) {
      if (isIstioControlPlane(o)) continue;
      const spec = podTemplate(o).spec;
      if (rec(spec.securityContext).runAsUser === PROXY_UID) ctx.report("InvalidApplicationUID", o);
      for (const c of arr(spec.containers)) {
        if (c?.name === "istio-proxy" || c?.name === "istio-operator") continue;
        if (rec(c?.securityContext).runAsUser === PROXY_UID) ctx.report("InvalidApplicationUID", o);
      }
    }
  },
};

// Services selecting one meshed Deployment must not give one port two protocols, nor reach one targetPort through different ports.
export const multiService: Analyzer = {
  name: "deployment.MultiServiceAnalyzer",
  description: "A Deployment selected by several Services must not see one port with two protocols, or one targetPort behind different ports.",
  analyze(ctx) {
    for (const d of ctx.objects.of("Deployment")) {
      if (d.labels["gateway.istio.io/managed"] === "istio.io-mesh-controller" || !inMesh(d, ctx)) continue;
      const labels = podTemplate(d).labels;
      const services: AnalysisObject[] = ctx.objects.of("Service").filter((s) => {
        const sel = strMap(s.spec.selector);
        return Object.keys(sel).length > 0 && selects(sel, labels) && s.namespace === d.namespace;
      });
      // port → protocol → services
      const byPort = new Map<number, Map<string, string[]>>();
      // targetPort → port → service
      const byTarget = new Map<string, Map<number, string>>();
      for (const s of services) {
        for (const p of arr(s.spec.ports)) {
          const port = num(p?.port);
          const protocols = byPort.get(port) ?? new Map<string, string[]>();
          byPort.set(port, protocols);
          const protocol = str(p?.protocol) || "TCP";
          protocols.set(protocol, [...(protocols.get(protocol) ?? []), fullName(s)]);
          let tp = intOrString(p?.targetPort);
          if (tp === "0" || tp === "") tp = String(port);
          const ports = byTarget.get(tp) ?? new Map<number, string>();
          byTarget.set(tp, ports);
          ports.set(port, fullName(s));
        }
      }
      for (const [port, protocols] of byPort) {
        if (protocols.size > 1) ctx.report("DeploymentAssociatedToMultipleServices", d, d.name, port, [...protocols.values()].flat().sort());
      }
      for (const [tp, ports] of byTarget) {
        if (ports.size > 1) ctx.report("DeploymentConflictingPorts", d, d.name, [...ports.values()].sort(), tp, [...ports.keys()].sort((a, b) => a - b));
      }
    }
  },
};
