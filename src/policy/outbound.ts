// The client sidecar: which service the request is for, whether the
// workload's Sidecar scope holds it, and what happens when it does not.
import { isNodeLocal } from "../api/cidr.js";
import { normalizeAtProxy } from "./path-normalization.js";
import { hostWithoutPort } from "../api/host.js";
import { isHttpOrAuto, isTlsProtocol } from "../api/protocol.js";
import type { Workload } from "../registry/model.js";
import { proxyLabel, type Walk } from "./context.js";
import { DenyCodes, type Decision } from "./decision.js";
import { reachExternal } from "./delivery.js";
import { routeAtProxy } from "./mesh-routing.js";
import { egressScopeOf, inEgressScope, outboundMode, sidecarFor, sidecarName, type SidecarChoice } from "./sidecar-scope.js";
import { arriveAt } from "./inbound.js";
import { requestAuthority } from "./request.js";

export function outboundFromSidecar(walk: Walk, w: Workload): Decision {
  const at = proxyLabel(w);
  const bad = normalizeAtProxy(walk, at);
  if (bad) return bad;
  const { index, trail, req } = walk;
  const choice = sidecarFor(index, w);
  const scope = choice.sidecar;
  trail.add(() => ({ stage: "sidecar-scope", at, message: choice.why, policy: scope && sidecarName(scope) }));

  // Plain HTTP is routed by its Host header; TLS by SNI; TCP by destination address.
  const name = req.scheme === "http" ? hostWithoutPort(requestAuthority(req)) : req.host;
  let candidates = 0;
  let rejected: string[] | undefined;
  for (const service of index.registry.lookup(name, w.namespace)) {
    if (!service.ports.some((p) => p.port === req.port)) continue;
    candidates++;
    const verdict = egressScopeOf(index, w, service, req.port);
    if (!verdict.visible) {
      (rejected ??= []).push(verdict.explanation);
      continue;
    }
    trail.add(() => ({ stage: "outbound", at, message: verdict.explanation, policy: verdict.line && scope ? sidecarName(scope) : service.source, rule: verdict.line }));
    const port = service.ports.find((p) => p.port === req.port)!;
    return routeAtProxy(walk, { proxy: w, label: at }, "mesh", { service, port, requestedHost: name });
  }
  for (const r of rejected ?? []) trail.add({ stage: "outbound", at, message: r });
  return unknownDestination(walk, w, choice, name, candidates > 0);
}

/** The destination is not in the source's scope: ALLOW_ANY passes it through, REGISTRY_ONLY blocks it. */
function unknownDestination(walk: Walk, w: Workload, choice: SidecarChoice, name: string, knownButHidden: boolean): Decision {
  const { index, trail, req } = walk;
  const at = proxyLabel(w);
  const { mode, from } = outboundMode(index, choice);
  const what = knownButHidden ? `${name}:${req.port} is outside the workload's egress scope` : `${name}:${req.port} is not in the mesh's registry`;
  if (mode === "REGISTRY_ONLY") {
    if (req.scheme === "http") {
      const catchAll = httpServiceInScope(walk, w, choice, req.port);
      if (catchAll) {
        trail.add({ stage: "outbound", at, message: `${what}; ${from} is REGISTRY_ONLY and port ${req.port} has an HTTP route table (${catchAll} is in scope), whose catch-all answers 502`, policy: from });
        return trail.deny({ kind: "response", status: 502, body: "" }, `${what} and ${from} is REGISTRY_ONLY (HTTP catch-all route: 502)`, DenyCodes.REGISTRY_ONLY, from);
      }
    }
    trail.add({ stage: "outbound", at, message: `${what}; ${from} is REGISTRY_ONLY: the BlackHole cluster resets the connection`, policy: from });
    return trail.deny({ kind: "error", error: "reset" }, `${what} and ${from} is REGISTRY_ONLY (BlackHole: reset)`, DenyCodes.REGISTRY_ONLY, from);
  }
  // Passthrough goes to the connection's original destination (what the client connected to, whatever Host it
  // then sent): an in-cluster Service's endpoint, or a host outside — never the machine itself: in Istio it would
  // be the pod's own loopback, here it is the node's, where the control plane and every workload's ports listen.
  const original = req.host;
  if (isNodeLocal(original)) {
    trail.add({ stage: "outbound", at, message: `${what}; passthrough never reaches the node's own addresses (${original})`, policy: from });
    return trail.deny({ kind: "error", error: "reset" }, `${original}:${req.port} is the node itself: passthrough does not go there`, DenyCodes.NODE_LOCAL, from);
  }
  trail.add({ stage: "outbound", at, message: `${what}; ${from} is ALLOW_ANY: passed through to the original destination without mTLS`, policy: from });
  const inCluster = index.registry.lookup(original, w.namespace).find((s) => !s.external && s.source.startsWith("Service/"));
  if (inCluster && index.registry.isClusterName(original, w.namespace)) {
    const port = inCluster.ports.find((p) => p.port === req.port);
    const ep = port ? index.registry.endpoints(inCluster, port)[0] : undefined;
    if (!ep) return trail.end({ kind: "error", error: "refused" }, `${original}:${req.port} has no endpoint listening`, DenyCodes.NO_ENDPOINT);
    return arriveAt(walk, ep.workload, ep.port, { sourceIp: w.address });
  }
  return reachExternal(walk, original, req.port, false);
}

/** Istio builds an HTTP route table for a port when any in-scope service has an HTTP (or auto) port there. */
function httpServiceInScope(walk: Walk, w: Workload, choice: SidecarChoice, port: number): string | undefined {
  const { index } = walk;
  for (const s of index.registry.services) {
    const p = s.ports.find((x) => x.port === port);
    if (!p || !isHttpOrAuto(p.protocol) || isTlsProtocol(p.protocol)) continue;
    if (inEgressScope(index, w, s, port).visible) return `${s.hostname}:${port}`;
  }
  return undefined;
}

