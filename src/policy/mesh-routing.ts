// Applying VirtualService routes at a proxy (a sidecar, "mesh", or a gateway).
import { hostMatches, hostWithoutPort } from "../api/host.js";
import type { HttpMatch, HttpRoute, RouteDestination, VirtualService } from "../api/types.js";
import { resolveConfigHost } from "../registry/dns.js";
import type { Sender, Walk } from "./context.js";
import type { PolicyIndex } from "./index.js";
import { DenyCodes, type Decision } from "./decision.js";
import { sendToService, type Target } from "./delivery.js";
import { requestAuthority } from "./request.js";
import { corsVerdict } from "./cors.js";
import { applyHeaderOps, describeHeaderOps, headerOpsFor } from "./header-ops.js";
import { rewrittenPath } from "./rewrite.js";
import { DEFAULT_HTTP_ROUTE, formatMs } from "./route-timing.js";
import { matchHttpRoute, matchTcpRoute, matchTlsRoute, pickDestination, vsGateways, vsHosts, vsName } from "./routing.js";

/** Per snapshot, by host and client namespace: every request through a sidecar asks. */
const meshRoutes = new WeakMap<PolicyIndex, Map<string, Map<string, VirtualService[]>>>();

/** VirtualServices for the mesh that cover a service host and are exported to the client's namespace. */
function meshVirtualServices(walk: Walk, host: string, clientNs: string): VirtualService[] {
  let byHost = meshRoutes.get(walk.index);
  if (!byHost) meshRoutes.set(walk.index, (byHost = new Map()));
  let byNs = byHost.get(host);
  if (!byNs) byHost.set(host, (byNs = new Map()));
  let list = byNs.get(clientNs);
  if (!list) byNs.set(clientNs, (list = coveringHost(walk.index, host, clientNs)));
  return list;
}

function coveringHost(index: PolicyIndex, host: string, clientNs: string): VirtualService[] {
  return index.virtualServices.filter((vs) =>
    vsGateways(vs).includes("mesh") &&
    (vs.exportTo.length === 0 || vs.exportTo.includes("*") || vs.exportTo.includes(clientNs) || (vs.exportTo.includes(".") && vs.meta.namespace === clientNs)) &&
    vsHosts(vs).some((h) => hostMatches(h, host)));
}

/** Routes a request a sidecar accepted for `target`: through a mesh VirtualService when one covers it. */
export function routeAtProxy(walk: Walk, sender: Sender, gateway: string, target: Target): Decision {
  const { trail, req } = walk;
  const all = meshVirtualServices(walk, target.service.hostname, sender.proxy?.namespace ?? "");
  const vs = all[0];
  if (!vs) {
    trail.add(() => ({ stage: "route", at: sender.label, message: `default route to ${target.service.hostname}:${target.port.port}` }));
    return sendToService(walk, sender, target);
  }
  if (req.scheme !== "http") {
    // TLS and TCP routes live on their own listeners, so every VirtualService for the host contributes (HTTP takes the first).
    for (const v of all) {
      const route = req.scheme === "https" ? matchTlsRoute(v, req.host, req.port, gateway) : matchTcpRoute(v, req.port, gateway);
      if (route) return followDestinations(walk, sender, v, route.route, target.port.port, `${req.scheme === "https" ? "tls" : "tcp"}[${route.index}]`);
    }
    trail.add({ stage: "route", at: sender.label, message: `no VirtualService for ${target.service.hostname} (${all.map(vsName).join(", ")}) has a ${req.scheme === "https" ? "tls" : "tcp"} route for this connection; default route`, policy: vsName(vs) });
    return sendToService(walk, sender, target);
  }
  const m = matchHttpRoute(vs, { authority: requestAuthority(req), port: req.port, method: req.method, path: req.path, scheme: "http", headers: req.headers, gateway, sourceLabels: sender.proxy?.labels, sourceNamespace: sender.proxy?.namespace });
  if (!m) {
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} has no http route matching ${req.method} ${req.path}`, policy: vsName(vs) });
    return trail.end({ kind: "response", status: 404, body: "" }, `no route in ${vsName(vs)} matches`, DenyCodes.NO_ROUTE, vsName(vs));
  }
  return applyHttpRoute(walk, sender, vs, m.route, m.match, target.port.port);
}

/** A redirect's path: the request's, with the matched URI prefix ("/" when the match had none) replaced by `prefixRewrite`. */
function redirectPath(path: string, prefixRewrite: string | undefined, match: HttpMatch | undefined): string {
  if (prefixRewrite === undefined) return path;
  const prefix = match?.uri && "prefix" in match.uri ? match.uri.prefix : "/";
  return path.startsWith(prefix) ? `${prefixRewrite}${path.slice(prefix.length)}` : path;
}

/** Redirect, direct response, fault or destinations of one http route. */
export function applyHttpRoute(walk: Walk, sender: Sender, vs: VirtualService, route: HttpRoute, matchIndex: number | undefined, defaultPort: number): Decision {
  const { trail, req } = walk;
  const rule = `http[${route.index}]${matchIndex !== undefined ? `.match[${matchIndex}]` : ""}`;
  // The CORS filter runs before the route's own action.
  const cors = route.corsPolicy ? corsVerdict(route.corsPolicy, req.method, req.headers) : undefined;
  if (cors?.reason) trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} corsPolicy: ${cors.reason}`, policy: vsName(vs), rule });
  if (cors?.kind === "answer") return trail.allow({ kind: "response", status: 200, headers: cors.headers, body: "" }, `CORS preflight answered by ${vsName(vs)}`);
  if (route.redirect) {
    const host = route.redirect.authority ?? hostWithoutPort(requestAuthority(req));
    const scheme = route.redirect.scheme ?? "http";
    const location = `${scheme}://${host}${route.redirect.port ? `:${route.redirect.port}` : ""}${route.redirect.uri ?? redirectPath(req.path, route.redirect.prefixRewrite, matchIndex !== undefined ? route.match[matchIndex] : undefined)}`;
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} redirects to ${location}`, policy: vsName(vs), rule });
    return trail.allow({ kind: "response", status: route.redirect.redirectCode, headers: { location } }, `redirected by ${vsName(vs)}`);
  }
  if (route.directResponse) {
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} answers directly with ${route.directResponse.status}`, policy: vsName(vs), rule });
    return trail.end({ kind: "response", status: route.directResponse.status, body: route.directResponse.body ?? "" }, `direct response from ${vsName(vs)}`, undefined, vsName(vs), rule);
  }
  const chance = walk.env.chance ?? ((p: number) => p >= 100);
  let delayMs: number | undefined;
  if (route.fault?.delay && chance(route.fault.delay.percentage)) {
    const ms = (delayMs = route.fault.delay.ms);
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} injects a delay of ${formatMs(ms)}`, policy: vsName(vs), rule });
    walk.timing.elapsedMs += ms;
  }
  if (route.fault?.abort && chance(route.fault.abort.percentage)) {
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} injects an abort with ${route.fault.abort.httpStatus}`, policy: vsName(vs), rule });
    return trail.end({ kind: "response", status: route.fault.abort.httpStatus, body: "fault filter abort" }, `fault injected by ${vsName(vs)}`, undefined, vsName(vs), rule);
  }
  // The router's timers start once the fault filter has let the request through.
  const retries = route.retries ?? DEFAULT_HTTP_ROUTE.retries;
  const start = walk.timing.elapsedMs;
  if (route.timeoutMs) walk.timing.timers.push({ startMs: start, timeoutMs: route.timeoutMs, at: sender.label, policy: vsName(vs), rule, kind: "timeout" });
  if (retries.perTryTimeoutMs) walk.timing.timers.push({ startMs: start, timeoutMs: retries.perTryTimeoutMs, at: sender.label, policy: vsName(vs), rule, kind: "perTryTimeout" });
  walk.route = { timeoutMs: route.timeoutMs, retries, delayMs };
  if (route.rewrite && (route.rewrite.uri !== undefined || route.rewrite.uriRegex)) {
    const path = rewrittenPath(req.path, route.rewrite, matchIndex !== undefined ? route.match[matchIndex] : undefined);
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} rewrites the path to ${path}`, policy: vsName(vs), rule });
    walk.req = { ...req, path };
  }
  if (route.rewrite?.authority) walk.req = { ...walk.req, headers: { ...walk.req.headers, host: route.rewrite.authority } };
  const chosen = pickDestination(route.route, walk.env.choose);
  const requestOps = headerOpsFor("request", chosen?.headers, route.headers);
  if (requestOps.length) {
    walk.req = { ...walk.req, headers: applyHeaderOps(walk.req.headers, requestOps) };
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} request headers: ${describeHeaderOps(requestOps)}`, policy: vsName(vs), rule });
  }
  // The CORS filter sees the answer after the router's header operations.
  const responseOps = [...headerOpsFor("response", chosen?.headers, route.headers), ...(cors?.kind === "decorate" ? [cors.response] : [])];
  if (responseOps.length) {
    walk.route.responseHeaders = responseOps;
    walk.responseOps.push(responseOps);
  }
  // The live proxy sends what the route made of the request.
  if (walk.req !== walk.arrived) walk.route.request = { path: walk.req.path, headers: walk.req.headers };
  return followDestinations(walk, sender, vs, route.route, defaultPort, rule, chosen);
}

/** Resolves a route's (weighted) destination in the VirtualService's namespace and sends to it. */
export function followDestinations(walk: Walk, sender: Sender, vs: VirtualService, dests: RouteDestination[], defaultPort: number, rule: string, chosen = pickDestination(dests, walk.env.choose)): Decision {
  const { trail, index, req } = walk;
  if (!chosen) return trail.end({ kind: "error", error: "reset" }, `${vsName(vs)} has no destination`, DenyCodes.NO_ROUTE, vsName(vs));
  const d = chosen.destination;
  const fqdn = resolveConfigHost(d.host, vs.meta.namespace);
  const split = dests.length > 1 ? ` (weight ${chosen.weight} of ${dests.map((x) => `${x.destination.host}${x.destination.subset ? `/${x.destination.subset}` : ""}=${x.weight}`).join(", ")})` : "";
  const service = index.registry.servicesByHostname(fqdn)[0] ?? index.registry.lookup(d.host, vs.meta.namespace)[0];
  if (!service) {
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} routes to ${fqdn}, which is not in the registry`, policy: vsName(vs), rule });
    return trail.end(req.scheme === "http" ? { kind: "response", status: 503, body: "no healthy upstream" } : { kind: "error", error: "reset" }, `destination ${fqdn} is unknown`, DenyCodes.NO_ENDPOINT, vsName(vs), rule);
  }
  const port = service.ports.find((p) => p.port === (d.port ?? defaultPort)) ?? (d.port === undefined && service.ports.length === 1 ? service.ports[0] : undefined);
  if (!port) {
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)} ${rule} routes to ${fqdn}:${d.port ?? defaultPort}, a port the service does not have`, policy: vsName(vs), rule });
    return trail.end(req.scheme === "http" ? { kind: "response", status: 503, body: "no healthy upstream" } : { kind: "error", error: "reset" }, `${fqdn} has no port ${d.port ?? defaultPort}`, DenyCodes.NO_ENDPOINT, vsName(vs), rule);
  }
  trail.add({ stage: "route", at: sender.label, message: `${vsName(vs)}${rule ? ` ${rule}` : ""} routes to ${fqdn}:${port.port}${d.subset ? ` subset ${d.subset}` : ""}${split}`, policy: vsName(vs), rule: rule || undefined });
  return sendToService(walk, sender, { service, port, subset: d.subset, requestedHost: fqdn });
}
