// Where Istio's injector puts a sidecar (the rules FORMAT.md states).

export interface InjectionInput {
  namespaceLabels: Record<string, string>;
  podLabels: Record<string, string>;
  podAnnotations: Record<string, string>;
}

export function injectsSidecar({ namespaceLabels, podLabels, podAnnotations }: InjectionInput): boolean {
  if (namespaceLabels["istio-injection"] === "disabled") return false;
  const override = podLabels["sidecar.istio.io/inject"] ?? podAnnotations["sidecar.istio.io/inject"];
  if (override === "false") return false;
  if (override === "true") return true;
  return namespaceLabels["istio-injection"] === "enabled" || namespaceLabels["istio.io/rev"] !== undefined;
}

/**
 * A pod annotation saying its proxy is run by hand (`zeromesh gateway`), so `zeromesh up` does not launch
 * one of its own: two processes would claim the same instance, and the control plane lets only one hold it.
 */
export const PROXY_RUN_BY_HAND = { key: "zeromesh.io/proxy", value: "run-by-hand" } as const;

/** Gateway injection: the pod runs the gateway proxy instead of an application. */
export function isGatewayPod(podAnnotations: Record<string, string>, podLabels: Record<string, string>): boolean {
  const override = podLabels["sidecar.istio.io/inject"] ?? podAnnotations["sidecar.istio.io/inject"];
  return podAnnotations["inject.istio.io/templates"] === "gateway" && override !== "false";
}
