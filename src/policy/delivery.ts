// From a proxy to a service: pick an endpoint (or the external host), decide
// mutual TLS, and hand over to the destination.
import { hostMatches } from "../api/host.js";
import type { ClientTls, ConnectionPool, DestinationRule, TrafficPolicy } from "../api/types.js";
import { resolveConfigHost } from "../registry/dns.js";
import type { Endpoint, MeshService, ServiceModelPort, Workload } from "../registry/model.js";
import type { LoadBalancer, Sender, Walk } from "./context.js";
import { DenyCodes, UPSTREAM_RESET_BODY, type Decision, type PoolLimits } from "./decision.js";
import { handleAtGateway } from "./gateway-path.js";
import { arriveAt, serveWith } from "./inbound.js";
import { effectiveMtls } from "./peer-authn.js";
import { DEFAULT_HTTP_ROUTE, type HttpRouteHandling } from "./route-timing.js";
import type { PolicyIndex } from "./index.js";

export const drName = (d: DestinationRule) => `DestinationRule/${d.meta.namespace}/${d.meta.name}`;

/** Lookups per snapshot, by host, client namespace and service namespace (every request to a service makes one). */
const ruleLookups = new WeakMap<PolicyIndex, Map<string, Map<string, Map<string, DestinationRule | undefined>>>>();

/** Istio's lookup order: the client's namespace, the service's, then the root namespace. */
export function destinationRuleFor(index: PolicyIndex, host: string, clientNs: string | undefined, serviceNs: string): DestinationRule | undefined {
  let byHost = ruleLookups.get(index);
  if (!byHost) ruleLookups.set(index, (byHost = new Map()));
  let byClient = byHost.get(host);
  if (!byClient) byHost.set(host, (byClient = new Map()));
  let byService = byClient.get(clientNs ?? "");
  if (!byService) byClient.set(clientNs ?? "", (byService = new Map()));
  if (byService.has(serviceNs)) return byService.get(serviceNs);
  const dr = lookupDestinationRule(index, host, clientNs, serviceNs);
  byService.set(serviceNs, dr);
  return dr;
}

function lookupDestinationRule(index: PolicyIndex, host: string, clientNs: string | undefined, serviceNs: string): DestinationRule | undefined {
  const order = [clientNs, serviceNs, index.rootNamespace].filter((n): n is string => !!n);
  for (const ns of order) {
    const candidates = index.destinationRules.filter((d) => d.meta.namespace === ns && (d.exportTo.length === 0 || d.exportTo.includes("*") || d.exportTo.includes(".") && ns === clientNs || (clientNs !== undefined && d.exportTo.includes(clientNs))));
    const exact = candidates.find((d) => resolveConfigHost(d.host, ns) === host);
    if (exact) return exact;
    const wild = candidates.find((d) => hostMatches(resolveConfigHost(d.host, ns), host));
    if (wild) return wild;
  }
  return undefined;
}

/** A setting from the subset's trafficPolicy, else from the DestinationRule's (Istio's precedence). */
function fromTrafficPolicy<T>(dr: DestinationRule | undefined, subset: string | undefined, read: (tp: TrafficPolicy) => T | undefined): T | undefined {
  if (!dr) return undefined;
  const sub = subset ? dr.subsets.find((s) => s.name === subset)?.trafficPolicy : undefined;
  return (sub ? read(sub) : undefined) ?? (dr.trafficPolicy ? read(dr.trafficPolicy) : undefined);
}

function clientTlsFor(dr: DestinationRule | undefined, port: number, subset?: string): ClientTls | undefined {
  return fromTrafficPolicy(dr, subset, (tp) => tp.portLevel.find((p) => p.port === port)?.tls ?? tp.tls);
}

/** "host:port" of a service port, made once (balancer, outlier and pool counts are kept by it). */
const portKeys = new WeakMap<MeshService, Map<number, string>>();
function servicePortKey(service: MeshService, port: number): string {
  let byPort = portKeys.get(service);
  if (!byPort) portKeys.set(service, (byPort = new Map()));
  let k = byPort.get(port);
  if (k === undefined) byPort.set(port, (k = `${service.hostname}:${port}`));
  return k;
}

export interface Target {
  service: MeshService;
  port: ServiceModelPort;
  subset?: string;
  /** The host the client asked for (wildcard ServiceEntries forward to it). */
  requestedHost: string;
}

export function sendToService(walk: Walk, sender: Sender, t: Target): Decision {
  const { index, trail, req, env } = walk;
  const clientNs = sender.proxy?.namespace;
  const dr = sender.proxy ? destinationRuleFor(index, t.service.hostname, clientNs, t.service.namespace) : undefined;
  const tls = clientTlsFor(dr, t.port.port, t.subset);

  if (t.service.external || (!t.service.selector && t.service.source.startsWith("ServiceEntry/"))) {
    const host = t.service.hostname.startsWith("*") ? t.requestedHost : t.service.hostname;
    const targetPort = typeof t.port.targetPort === "number" ? t.port.targetPort : t.port.port;
    const originate = tls?.mode === "SIMPLE" || tls?.mode === "MUTUAL";
    trail.add({ stage: "endpoint", at: sender.label, message: `${t.service.source} is outside the mesh (resolution ${t.service.resolution}): connecting to ${host}:${targetPort}${originate ? ` and originating TLS (${drName(dr!)})` : ""}`, policy: t.service.source });
    return reachExternal(walk, host, targetPort, originate);
  }

  let endpoints = index.registry.endpoints(t.service, t.port);
  if (t.subset) {
    const labels = dr?.subsets.find((s) => s.name === t.subset)?.labels;
    if (!labels) {
      trail.add({ stage: "endpoint", at: sender.label, message: `subset "${t.subset}" is not defined by any DestinationRule for ${t.service.hostname}` });
      return trail.end(unhealthy(req.scheme), `no subset "${t.subset}" for ${t.service.hostname}`, DenyCodes.NO_ENDPOINT);
    }
    endpoints = endpoints.filter((e) => Object.entries(labels).every(([k, v]) => e.workload.labels[k] === v));
  }
  const lb = loadBalancerOf(dr, t.subset);
  // The service port names the balancer's place, ejection and pool counts, and the trail.
  const key = servicePortKey(t.service, t.port.port);
  const picked = env.pickEndpoint && endpoints.length > 1 ? env.pickEndpoint(endpoints.map((e) => e.name), key, lb) : 0;
  const ep = endpoints[picked];
  if (!ep) {
    trail.add({ stage: "endpoint", at: sender.label, message: `${key} has no endpoints` });
    return trail.end(unhealthy(req.scheme), `no healthy endpoint for ${key}`, DenyCodes.NO_ENDPOINT);
  }
  const mtls = decideMtls(index, sender.proxy, ep.workload, ep.port, tls);
  const od = fromTrafficPolicy(dr, t.subset, (tp) => tp.outlierDetection);
  trail.add(() => {
    const ejecting = od && endpoints.length > 1 ? `, outlier detection ejects after ${od.consecutive5xxErrors || od.consecutiveGatewayErrors} consecutive errors` : "";
    return { stage: "mtls", at: sender.label, message: `to ${ep.workload.id}:${ep.port} (${endpoints.length === 1 ? "1 endpoint" : `${endpoints.length} endpoints, ${LB_NAMES[lb]}${ejecting}`}): ${mtls.why}`, policy: dr && tls ? drName(dr) : undefined };
  });
  if (env.scope === "hop") {
    // The destination's sidecar (or gateway) decides the rest; a peer must present one of the identities the service runs as.
    const outcome: Forward = { kind: "forward", address: ep.workload.address, port: ep.port, workload: ep.workload.id, endpoint: ep.name, mtls: mtls.on, identities: identitiesOf(endpoints), host: t.requestedHost, http: httpHandling(walk) };
    // The other endpoints, in the order round robin would reach them: where a retry goes next.
    if (endpoints.length > 1) outcome.alternates = [...endpoints.slice(picked + 1), ...endpoints.slice(0, picked)].slice(0, MAX_ALTERNATES).map((e) => ({ address: e.workload.address, port: e.port, workload: e.workload.id }));
    if (od) outcome.outlier = { policy: od, key, hosts: endpoints.length };
    const pool = poolLimits(fromTrafficPolicy(dr, t.subset, (tp) => tp.connectionPool), key);
    if (pool) outcome.pool = pool;
    return trail.allow(outcome, `forwarded to ${ep.workload.id}:${ep.port}`);
  }
  if (ep.workload.gateway) return handleAtGateway(walk, ep.workload, t.port.port, ep.port, { mtlsFrom: mtls.on ? sender.proxy : undefined });
  return arriveAt(walk, ep.workload, ep.port, { mtlsFrom: mtls.on ? sender.proxy : undefined, sourceIp: sender.proxy?.address });
}

type Forward = Extract<Decision["outcome"], { kind: "forward" }>;

/** The identities a service's endpoints run as, once per endpoint list (the registry keeps one per service port and snapshot). */
const identities = new WeakMap<readonly Endpoint[], string[]>();
function identitiesOf(endpoints: readonly Endpoint[]): string[] {
  let ids = identities.get(endpoints);
  if (!ids) identities.set(endpoints, (ids = [...new Set(endpoints.map((e) => e.workload.spiffe))]));
  return ids;
}

/** Circuit breaking from a connectionPool: how many requests may be in flight to the service (unset limits: none). */
function poolLimits(cp: ConnectionPool | undefined, key: string): PoolLimits | undefined {
  if (!cp) return undefined;
  const NONE = Number.MAX_SAFE_INTEGER;
  const h2 = cp.http2MaxRequests ?? NONE;
  const h1 = Math.min(h2, (cp.maxConnections ?? NONE) + (cp.http1MaxPendingRequests ?? NONE));
  return h1 >= NONE && h2 >= NONE ? undefined : { key, h1, h2 };
}

const LB_NAMES: Record<LoadBalancer, string> = { ROUND_ROBIN: "round robin", LEAST_REQUEST: "least request", RANDOM: "random" };

/** The subset's load balancer, else the DestinationRule's; least request when none says (Istio's default, as LEAST_CONN and UNSPECIFIED). */
function loadBalancerOf(dr: DestinationRule | undefined, subset: string | undefined): LoadBalancer {
  const simple = fromTrafficPolicy(dr, subset, (tp) => tp.loadBalancer);
  return simple === "ROUND_ROBIN" || simple === "RANDOM" ? simple : "LEAST_REQUEST";
}

/** Retries try at most this many other endpoints (Istio's default is two retries). */
const MAX_ALTERNATES = 4;

/** The chosen route's timeout and retries for an HTTP hop (Istio's defaults without a VirtualService). */
/** How the live proxy sends an HTTP request on: the route's handling, with the request as this proxy changed it (if it did). */
function httpHandling(walk: Walk): HttpRouteHandling | undefined {
  if (walk.req.scheme !== "http") return undefined;
  const route = walk.route ?? DEFAULT_HTTP_ROUTE;
  return walk.req === walk.arrived || route.request ? route : { ...route, request: { path: walk.req.path, headers: walk.req.headers } };
}

const unhealthy = (scheme: string) => (scheme === "http" ? { kind: "response" as const, status: 503, body: "no healthy upstream" } : { kind: "error" as const, error: "reset" as const });

/** Auto mTLS: mutual TLS toward workloads with a sidecar that accepts it, unless a DestinationRule says otherwise. */
function decideMtls(index: PolicyIndex, client: Workload | undefined, server: Workload, port: number, tls: ClientTls | undefined): { on: boolean; why: string } {
  if (!client) return { on: false, why: "the client has no sidecar: plaintext" };
  if (tls?.mode === "ISTIO_MUTUAL") return { on: true, why: "DestinationRule sets ISTIO_MUTUAL: mutual TLS" };
  if (tls?.mode === "DISABLE") return { on: false, why: "DestinationRule sets tls DISABLE: plaintext" };
  if (!server.sidecar) return { on: false, why: "auto mTLS: the destination has no sidecar, so plaintext" };
  if (effectiveMtls(index, server, port).mode === "DISABLE") return { on: false, why: "auto mTLS: the destination's PeerAuthentication is DISABLE, so plaintext" };
  let on = autoMutual.get(client);
  if (!on) autoMutual.set(client, (on = { on: true, why: `auto mTLS: mutual TLS as ${client.spiffe}` }));
  return on;
}

/** The usual verdict, once per client (every request to a sidecar gets it). */
const autoMutual = new WeakMap<Workload, { on: boolean; why: string }>();

/** A connection to a host outside the mesh, as the world answers it. */
export function reachExternal(walk: Walk, host: string, port: number, originateTls: boolean, viaProxy = true): Decision {
  const { env, trail, req } = walk;
  if (env.scope === "hop") {
    trail.add({ stage: "external", at: host, message: `leaves the mesh for ${host}:${port}${originateTls ? " (TLS originated by the proxy)" : ""}` });
    return trail.allow({ kind: "forward", address: host, port, mtls: false, identities: [], host, originateTls, http: httpHandling(walk) }, `forwarded to ${host}:${port}, outside the mesh`);
  }
  const ext = env.world.external(host, port);
  if (ext === "unknown") {
    trail.add({ stage: "external", at: host, message: `leaves the mesh for ${host}:${port}` });
    return trail.allow({ kind: "forwarded", host, port }, `forwarded to ${host}:${port}, outside the mesh`);
  }
  if (!ext) {
    trail.add({ stage: "external", at: host, message: `${host}:${port} does not exist or does not answer` });
    // A proxy turns a failed upstream into 503 (HTTP) or a reset; a client on its own fails to resolve or connect.
    if (viaProxy) return trail.end(req.scheme === "http" ? { kind: "response", status: 503, body: UPSTREAM_RESET_BODY } : { kind: "error", error: "reset" }, `${host}:${port} does not answer the proxy`, DenyCodes.NO_ENDPOINT);
    return trail.end({ kind: "error", error: "unresolved" }, `${host} does not resolve to anything that listens on port ${port}`, DenyCodes.UNRESOLVED);
  }
  if (originateTls && ext.serve === "https" && req.scheme === "http") {
    trail.add({ stage: "tls", at: host, message: "the proxy originates TLS; the application speaks plain HTTP" });
    return serveWith(walk, { serve: "http", body: ext.body, files: ext.files }, `external ${host}:${port}`, { workload: host, namespace: "external" }, {});
  }
  return serveWith(walk, ext, `external ${host}:${port}`, { workload: host, namespace: "external" }, {});
}
