// The decision engine's entry: one request from a source, walked through
// every proxy on its path. Pure: config and world in, decision out.
import { hopEnv, newWalk, proxyLabel, type Env, type Walk } from "./context.js";
import { DenyCodes, type Decision } from "./decision.js";
import { reachExternal } from "./delivery.js";
import { handleAtGateway } from "./gateway-path.js";
import { arriveAt, type Arrival } from "./inbound.js";
import type { Workload } from "../registry/model.js";
import { outboundFromSidecar } from "./outbound.js";
import type { Request, Source } from "./request.js";
import { PolicyIndex } from "./index.js";
import { effectiveMtls } from "./peer-authn.js";
import type { Snapshot } from "../store/snapshot.js";

export function decide(env: Env, source: Source, req: Request): Decision {
  const walk = newWalk(env, req);
  const { index, trail } = walk;
  if (source.kind === "outside") {
    const { namespace, service, port } = source.via;
    trail.add({ stage: "source", at: "outside", message: `a client with no mesh identity connects to Service ${namespace}/${service}:${port}` });
    const svc = index.registry.servicesByHostname(`${service}.${namespace}.svc.cluster.local`)[0];
    const sp = svc?.ports.find((p) => p.port === port);
    if (!svc || !sp) return trail.end({ kind: "error", error: "refused" }, `Service ${namespace}/${service} has no port ${port}`, DenyCodes.NO_LISTENER);
    const ep = index.registry.endpoints(svc, sp)[0];
    if (!ep) return trail.end({ kind: "error", error: "refused" }, `Service ${namespace}/${service}:${port} has no endpoints`, DenyCodes.NO_ENDPOINT);
    if (ep.workload.gateway) return handleAtGateway(walk, ep.workload, port, ep.port, { sourceIp: "127.0.0.1" });
    return arriveAt(walk, ep.workload, ep.port, { sourceIp: "127.0.0.1" });
  }

  if (source.kind === "node") {
    trail.add({ stage: "source", at: "node", message: `a process on the node (${source.address}) with no mesh identity connects ${source.target ? `straight to ${source.target.workload.id}:${source.target.port}` : `to ${req.host}:${req.port}`}` });
    const t = source.target;
    if (t) return t.workload.gateway ? handleAtGateway(walk, t.workload, t.port, t.port, { sourceIp: source.address }) : arriveAt(walk, t.workload, t.port, { sourceIp: source.address });
    return plainClient(walk, source.address, undefined);
  }
  const w = source.workload;
  if (w.sidecar && !w.gateway) {
    trail.add({ stage: "source", at: proxyLabel(w), message: `${w.id} (${w.spiffe}) sends ${req.scheme === "tcp" ? "a connection to" : req.method} ${req.scheme}://${req.host}:${req.port}${req.scheme === "tcp" ? "" : req.path} through its sidecar` });
    return outboundFromSidecar(walk, w);
  }
  // No sidecar: the client resolves the name itself (Kubernetes DNS, or the outside world) and connects in plaintext.
  trail.add({ stage: "source", at: `workload ${w.id}`, message: `${w.id} has no sidecar: it connects straight to ${req.host}:${req.port} in plaintext` });
  return plainClient(walk, w.address, w.namespace);
}

/** A client without a sidecar (a workload's, or the node's): Kubernetes DNS (names of `namespace`, or fully qualified) to an endpoint, else the outside world. */
function plainClient(walk: Walk, address: string, namespace: string | undefined): Decision {
  const { index, trail, req } = walk;
  const at = namespace ? "workload" : "node";
  if (index.registry.isClusterName(req.host, namespace ?? "")) {
    const svc = index.registry.lookup(req.host, namespace ?? "")[0]!;
    const sp = svc.ports.find((p) => p.port === req.port);
    const ep = sp ? index.registry.endpoints(svc, sp)[0] : undefined;
    if (!ep) return trail.end({ kind: "error", error: "refused" }, `${svc.hostname}:${req.port} has no endpoint listening`, DenyCodes.NO_ENDPOINT);
    trail.add({ stage: "endpoint", at, message: `kube-proxy sends it to ${ep.workload.id}:${ep.port}` });
    if (ep.workload.gateway) return handleAtGateway(walk, ep.workload, req.port, ep.port, { sourceIp: address });
    return arriveAt(walk, ep.workload, ep.port, { sourceIp: address });
  }
  return reachExternal(walk, req.host, req.port, false, false);
}

/** The client sidecar's hop: where this request goes next, or why it stops here. */
export function decideOutbound(env: Env, w: Workload, req: Request): Decision {
  const walk = newWalk(hopEnv(env), req);
  walk.trail.add(() => ({ stage: "source", at: proxyLabel(w), message: `${w.id} sends ${req.scheme === "tcp" ? "a connection to" : req.method} ${req.scheme}://${req.host}:${req.port}${req.scheme === "tcp" ? "" : req.path}` }));
  return outboundFromSidecar(walk, w);
}

/** The server sidecar's hop: deliver to the application, or deny. */
export function decideInbound(env: Env, w: Workload, port: number, arrival: Arrival, req: Request): Decision {
  return arriveAt(newWalk(hopEnv(env), req), w, port, arrival);
}

/**
 * Whether a sidecar's port takes mutual TLS only (PeerAuthentication STRICT, as decideInbound applies it):
 * the inbound can then reset a plaintext connection at its first bytes instead of reading its headers.
 */
export function plaintextRefused(snapshot: Snapshot, w: Workload, port: number): boolean {
  return w.sidecar && !w.gateway && effectiveMtls(PolicyIndex.of(snapshot), w, port).mode === "STRICT";
}

/** A gateway's hop: route the connection to its next hop, or refuse it. */
export function decideAtGateway(env: Env, gw: Workload, servicePort: number, targetPort: number, req: Request, arrival: Arrival): Decision {
  return handleAtGateway(newWalk(hopEnv(env), req), gw, servicePort, targetPort, arrival);
}

export type { Env };
