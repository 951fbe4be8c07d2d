// `zeromesh analyze`: Istio's analyzers (pkg/config/analysis/analyzers) over a
// set of objects, each reporting in Istio's codes and words. Pure.
import { analysisMesh, Context, Objects, type Analyzer, type Message } from "./context.js";
import type { AnalysisObject } from "./objects.js";
import { k8sAnnotations } from "./analyzers/annotations.js";
import { authorizationPolicies } from "./analyzers/authz.js";
import { applicationUID, multiService } from "./analyzers/deployment.js";
import { deprecation } from "./analyzers/deprecation.js";
import { caCertificate, subsetSelectPod } from "./analyzers/destination-rule.js";
import { envoyPatch } from "./analyzers/envoy-filter.js";
import { certificate, conflictingGateway, ingressGatewayPort, secret } from "./analyzers/gateway.js";
import { k8sGatewaySelector } from "./analyzers/k8s-gateway.js";
import { virtualServiceValidation } from "./analyzers/schema.js";
import { conflictingProtocol, protocolAddresses } from "./analyzers/service-entry.js";
import { portName } from "./analyzers/service.js";
import { sidecarSelector } from "./analyzers/sidecar.js";
import { defaultSelector, lightstep, provider, telemetrySelector } from "./analyzers/telemetry.js";
import { conflictingMeshGatewayHosts, destinationHosts, destinationRules, gatewayReferences, jwtClaimRoute } from "./analyzers/virtual-service.js";

/** Every analyzer zeromesh runs, in Istio's names. */
export const ANALYZERS: Analyzer[] = [
  caCertificate, subsetSelectPod,
  ingressGatewayPort, conflictingGateway, secret, certificate,
  gatewayReferences, conflictingMeshGatewayHosts, destinationHosts, destinationRules, jwtClaimRoute,
  portName, protocolAddresses, conflictingProtocol,
  applicationUID, multiService,
  sidecarSelector,
  provider, telemetrySelector, defaultSelector, lightstep,
  authorizationPolicies, deprecation, k8sGatewaySelector, envoyPatch,
  virtualServiceValidation, k8sAnnotations,
];

const LEVELS = { Error: 0, Warning: 1, Info: 2 } as const;

/** The messages of the analyzers (all, or those named) on these objects, most severe first, then by origin. */
export function analyze(objects: AnalysisObject[], meshRaw: Record<string, any> = {}, only?: string[]): Message[] {
  const ctx = new Context(new Objects(objects), analysisMesh(meshRaw));
  for (const a of ANALYZERS) {
    if (only && !only.includes(a.name)) continue;
    ctx.analyzer = a.name;
    a.analyze(ctx);
  }
  // As istioctl: a message reported twice (same type, object and words) is shown once.
  const seen = new Set<string>();
  const unique = ctx.messages.filter((m) => {
    const key = JSON.stringify([m.code, m.origin, m.reference, m.message]);
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return unique.sort(byImportance);
}

/** Most severe first, then by object, then by code: the order messages are printed in. */
export const byImportance = (a: Message, b: Message) => LEVELS[a.level] - LEVELS[b.level] || (a.origin ?? "").localeCompare(b.origin ?? "") || a.code.localeCompare(b.code);

export type { Message } from "./context.js";
