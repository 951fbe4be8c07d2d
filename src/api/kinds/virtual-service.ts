import { checkHost, hostsOverlap } from "../host.js";
import type { StringMatch } from "../match.js";
import { compileRe2 } from "../re2.js";
import type { Reader } from "../reader.js";
import { RETRY_CONDITIONS, type CorsPolicy, type HeaderOperations, type HeaderRules, type HttpMatch, type HttpRoute, type Origin, type RetryCondition, type RetryPolicy, type RouteDestination, type TcpRoute, type TlsRoute, type VirtualService } from "../types.js";
import { HEADER_NAME, readDuration, readMsDuration } from "./common.js";
import { readExportTo, readMeta } from "./meta.js";

export function readVirtualService(doc: Reader, origin: Origin): VirtualService {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["hosts", "gateways", "http", "tls", "tcp", "exportTo"]);
  const hostsR = spec.field("hosts");
  const gatewaysR = spec.field("gateways");
  const gateways = gatewaysR.strings();
  gateways.forEach((g, i) => {
    if (g !== "mesh" && !/^([a-z0-9-]+\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(g)) gatewaysR.error(`"${g}" is not a gateway name ("name", "namespace/name" or "mesh")`, `${gatewaysR.path}[${i}]`);
  });
  const appliesToMesh = !gateways.length || gateways.includes("mesh");
  // A VirtualService without hosts is a delegate: only another one's `delegate` reaches it (validateVirtualService).
  const hosts = hostsR.strings();
  const delegate = !hosts.length;
  if (delegate) {
    if (gateways.length) gatewaysR.error("delegate virtual service must have no gateways specified");
    if (spec.field("tls").present) spec.field("tls").error("delegate virtual service must have no tls route specified");
    if (spec.field("tcp").present) spec.field("tcp").error("delegate virtual service must have no tcp route specified");
  }
  hosts.forEach((h, i) => {
    const err = !appliesToMesh && isAutoSniHost(h) ? undefined : checkHost(h);
    if (err) hostsR.error(err, `${hostsR.path}[${i}]`);
    else if (appliesToMesh && h === "*") hostsR.error("wildcard host * is not allowed for virtual services bound to the mesh gateway", `${hostsR.path}[${i}]`);
  });
  // Literal and wildcard duplicates ("*.foo.com" and "*.com") in one VirtualService.
  hosts.forEach((a, i) => hosts.slice(0, i).forEach((b) => hostsOverlap(a, b) && hostsR.error(`duplicate hosts in virtual service: ${b} & ${a}`, `${hostsR.path}[${i}]`)));
  const http = spec.field("http").list().map(readHttpRoute);
  const tls = spec.field("tls").list().map((r, i) => readTlsRoute(r, i, !appliesToMesh));
  const tcp = spec.field("tcp").list().map(readTcpRoute);
  if (!http.length && !tls.length && !tcp.length) spec.error("must have at least one http, tls or tcp route");
  // JWT claim routing ("@request.auth.claims.x" header matches) works only where tokens are verified first: gateways.
  if (appliesToMesh) {
    spec.field("http").list().forEach((r) => r.field("match").list().forEach((m) => {
      for (const k of m.field("headers").keys()) if (k.startsWith("@request.auth.claims")) m.field("headers").field(k).error(`JWT claim based routing (key: ${k}) is only supported for gateway, found no gateways: [${gateways.join(" ")}]`);
    }));
  }
  return { kind: "VirtualService", meta, origin, hosts, gateways, http, tls, tcp, exportTo: readExportTo(spec.field("exportTo")) };
}

export function readStringMatch(r: Reader): StringMatch | undefined {
  if (!r.present) return undefined;
  r.object(["exact", "prefix", "regex"]);
  const keys = r.keys();
  if (keys.length !== 1) {
    r.error("must set exactly one of exact, prefix, regex");
    return undefined;
  }
  const key = keys[0]!;
  const v = r.field(key).string({ required: true });
  if (v === undefined) return undefined;
  if (key === "exact") return { exact: v };
  if (key === "prefix") return { prefix: v };
  // RE2, matched against the whole value, as Envoy does.
  const compiled = compileRe2(v);
  if ("error" in compiled) {
    r.field("regex").error(`invalid RE2 regular expression: ${compiled.error}`);
    return undefined;
  }
  return { regex: v, compiled };
}

function readMatchMap(r: Reader, headers = false): Record<string, StringMatch> {
  const out: Record<string, StringMatch> = {};
  r.object();
  for (const k of r.keys()) {
    if (headers && !r.field(k).present) {
      r.field(k).error(`header match ${k} cannot be null`);
      continue;
    }
    if (headers && r.field(k).field("prefix").value === "") r.field(k).field("prefix").error(`header match ${k} prefix cannot be empty`);
    const m = readStringMatch(r.field(k));
    // Header names are case-insensitive; JWT claim names ("@request.auth.claims.groups") are not.
    if (m) out[k.startsWith("@request.auth.claims.") ? k : k.toLowerCase()] = m;
  }
  return out;
}

function readDestinations(r: Reader, required: boolean): RouteDestination[] {
  const list = r.list({ required });
  const out = list.map((d) => {
    d.object(["destination", "weight", "headers"]);
    const dest = d.field("destination").object(["host", "subset", "port"]);
    if (!dest.present) dest.error("is required");
    const host = dest.field("host").string({ required: true }) ?? "";
    if (host) {
      // validateDestination: a wildcard host is a valid destination (a wildcard ServiceEntry), "*" alone is not.
      const err = host === "*" ? "wildcard host * is not allowed as a destination" : checkHost(host);
      if (err) dest.field("host").error(err);
    }
    const portR = dest.field("port").object(["number"]);
    const port = portR.field("number").port({ required: portR.present });
    const headers = readHeaderRules(d.field("headers"));
    return { destination: { host, subset: dest.field("subset").string(), port }, weight: d.field("weight").int({ min: 0 }) ?? 0, ...(headers ? { headers } : {}) };
  });
  // Weights are relative, as Envoy's weighted clusters take them (Istio no longer asks for a sum of 100); an unset
  // weight is 0. A lone destination carries all traffic; several need some weight between them (validateHTTPRouteDestinations).
  if (out.length === 1) out[0]!.weight = 100;
  if (out.length > 1 && out.every((d) => d.weight === 0)) r.error("total destination weight = 0");
  return out;
}

/** `corsPolicy`; the deprecated `allowOrigin` list of exact origins is read too ("*" allows any). */
function readCorsPolicy(r: Reader): CorsPolicy | undefined {
  const c = r.object(["allowOrigins", "allowOrigin", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge", "allowCredentials", "unmatchedPreflights"]);
  if (!c.present) return undefined;
  const origins = c.field("allowOrigins").list().map(readStringMatch).filter((m): m is StringMatch => m !== undefined);
  for (const o of c.field("allowOrigin").strings()) origins.push(o === "*" ? { prefix: "" } : { exact: o });
  const maxAgeMs = readMsDuration(c.field("maxAge"));
  c.field("allowMethods").strings().forEach((m, i) => !HTTP_METHODS.includes(m) && c.field("allowMethods").error(`"${m}" is not an HTTP method`, `${c.field("allowMethods").path}[${i}]`));
  for (const f of ["allowHeaders", "exposeHeaders"]) c.field(f).strings().forEach((h, i) => !HEADER_NAME.test(h) && c.field(f).error(`"${h}" is not a header name`, `${c.field(f).path}[${i}]`));
  c.field("allowOrigins").list().forEach((o) => {
    for (const k of o.keys()) if (o.field(k).value === "") o.field(k).error("an origin match must not be empty");
  });
  const unmatched = c.field("unmatchedPreflights").string() ?? "FORWARD";
  if (unmatched !== "FORWARD" && unmatched !== "IGNORE" && unmatched !== "UNSPECIFIED") c.field("unmatchedPreflights").error(`must be one of FORWARD, IGNORE, got "${unmatched}"`);
  return {
    allowOrigins: origins, allowMethods: c.field("allowMethods").strings(), allowHeaders: c.field("allowHeaders").strings(), exposeHeaders: c.field("exposeHeaders").strings(),
    ...(maxAgeMs !== undefined ? { maxAgeSeconds: Math.floor(maxAgeMs / 1000) } : {}), allowCredentials: c.field("allowCredentials").bool(), unmatchedPreflights: unmatched === "IGNORE" ? "IGNORE" : "FORWARD",
  };
}

const GRPC_STATUSES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];

/** `mirror`/`mirrors` (read, not applied: zeromesh does not mirror traffic), checked as Istio's validateHTTPRoute does. */
function readMirrors(r: Reader): void {
  if (r.field("mirror").present && r.field("mirrors").present) r.error("HTTP route cannot contain both mirror and mirrors");
  const pct = (p: Reader) => p.object(["value"]).field("value").number({ min: 0, max: 100 });
  pct(r.field("mirrorPercentage"));
  r.field("mirrors").list().forEach((m) => {
    m.object(["destination", "percentage"]);
    if (!m.field("destination").present) m.field("destination").error("destination is required for mirrors");
    pct(m.field("percentage"));
  });
}

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

/** Envoy formats header values: a "%" is "%%" or starts a %COMMAND% (Istio's ValidateHTTPHeaderValue). */
function checkHeaderValue(v: string): string | undefined {
  const rest = v.replace(/%%/g, "").replace(/%[A-Z][A-Z0-9_]*(\([^)]*\))?(:\d+)?%/g, "");
  return rest.includes("%") ? `header value "${v}" has an unescaped "%" (write "%%")` : undefined;
}


/** `headers: {request: {set, add, remove}, response: {…}}`, on a route or one of its destinations. */
function readHeaderRules(r: Reader): HeaderRules | undefined {
  const h = r.object(["request", "response"]);
  if (!h.present) return undefined;
  const ops = (o: Reader, request: boolean): HeaderOperations | undefined => {
    o.object(["set", "add", "remove"]);
    if (!o.present) return undefined;
    const valid = (field: Reader, name: string) => (HEADER_NAME.test(name) ? true : (field.error(`"${name}" is not a header name this proxy may change`), false));
    // ":authority" may be set on a request (Istio's ValidateHTTPHeaderWithAuthorityOperationName): it is the Host header.
    const authority = (k: string) => (request && k.toLowerCase() === ":authority" ? "host" : k);
    const names = (field: Reader) => Object.fromEntries(Object.entries(field.stringMap()).map(([k, v]) => [authority(k), v] as const).filter(([k, v]) => {
      const bad = checkHeaderValue(v);
      if (bad) field.error(bad);
      return valid(field, k);
    }).map(([k, v]) => [k.toLowerCase(), v]));
    const remove = o.field("remove");
    return { set: names(o.field("set")), add: names(o.field("add")), remove: remove.strings().filter((n) => valid(remove, n)).map((n) => n.toLowerCase()) };
  };
  const out: HeaderRules = {};
  const request = ops(h.field("request"), true);
  const response = ops(h.field("response"), false);
  if (request) out.request = request;
  if (response) out.response = response;
  return out;
}

function readHttpMatch(m: Reader): HttpMatch {
  m.object(["name", "uri", "scheme", "method", "authority", "headers", "port", "sourceLabels", "gateways", "queryParams", "ignoreUriCase", "withoutHeaders", "sourceNamespace", "statPrefix"]);
  return {
    name: m.field("name").string(),
    uri: readStringMatch(m.field("uri")),
    scheme: readStringMatch(m.field("scheme")),
    method: readStringMatch(m.field("method")),
    authority: readStringMatch(m.field("authority")),
    headers: readMatchMap(m.field("headers"), true),
    withoutHeaders: readMatchMap(m.field("withoutHeaders"), true),
    queryParams: readMatchMap(m.field("queryParams")),
    port: m.field("port").port(),
    sourceLabels: m.field("sourceLabels").stringMap(),
    sourceNamespace: m.field("sourceNamespace").string(),
    gateways: m.field("gateways").strings(),
    ignoreUriCase: m.field("ignoreUriCase").bool(),
  };
}

function readHttpRoute(r: Reader, index: number): HttpRoute {
  r.object(["name", "match", "route", "redirect", "directResponse", "delegate", "rewrite", "timeout", "retries", "fault", "mirror", "mirrorPercentage", "mirrorPercent", "mirrors", "corsPolicy", "headers"]);
  if (r.field("mirrorPercent").present) {
    r.field("mirrorPercent").int({ min: 0, max: 100 });
    r.field("mirrorPercent").warn('using deprecated setting "mirrorPercent", use "mirrorPercentage" instead');
  }
  const route = readDestinations(r.field("route"), false);
  const out: HttpRoute = { index, name: r.field("name").string(), match: r.field("match").list().map(readHttpMatch), route };
  const red = r.field("redirect").object(["uri", "authority", "port", "derivePort", "scheme", "redirectCode", "prefixRewrite"]);
  if (red.present) {
    // validateHTTPRedirect: something must change; uri and prefixRewrite exclude each other; 0 is the default code (301).
    const code = red.field("redirectCode").int({ min: 0, max: 399 }) || 301;
    if (code < 300) red.field("redirectCode").error(`must be a 3xx status, got ${code}`);
    const uri = red.field("uri").string() || undefined;
    const prefixRewrite = red.field("prefixRewrite").string();
    if (uri !== undefined && prefixRewrite !== undefined) red.error("uri and prefixRewrite are mutually exclusive");
    if (!uri && !red.field("authority").string() && prefixRewrite === undefined && !red.field("scheme").string() && !red.field("port").present && !red.field("derivePort").present) {
      red.error("redirect must specify URI, prefixRewrite, authority, scheme or port");
    }
    out.redirect = {
      uri, prefixRewrite, authority: red.field("authority").string() || undefined, scheme: red.field("scheme").string(),
      port: red.field("port").port(), redirectCode: code,
    };
  }
  const dr = r.field("directResponse").object(["status", "body"]);
  if (dr.present) {
    const body = dr.field("body").object(["string", "bytes"]);
    out.directResponse = { status: dr.field("status").int({ required: true, min: 200, max: 599 }) ?? 200, body: body.field("string").string() };
  }
  const rw = r.field("rewrite").object(["uri", "authority", "uriRegexRewrite"]);
  if (rw.present && !rw.field("uri").string() && !rw.field("authority").string() && !rw.field("uriRegexRewrite").present) rw.error("rewrite must specify URI, URI regex rewrite, or authority");
  if (rw.present) {
    out.rewrite = { uri: rw.field("uri").string(), authority: rw.field("authority").string() };
    const rx = rw.field("uriRegexRewrite").object(["match", "rewrite"]);
    if (rx.present) {
      const match = rx.field("match").string({ required: true });
      const rewrite = rx.field("rewrite").string({ required: true });
      if (out.rewrite.uri !== undefined) rw.error("uri and uriRegexRewrite are mutually exclusive");
      // Every match in the path is replaced (Envoy's regex_rewrite), `\1` being group 1.
      const compiled = match !== undefined ? compileRe2(match) : undefined;
      if (compiled && "error" in compiled) rx.field("match").error(`invalid RE2 regular expression: ${compiled.error}`);
      else if (compiled && match !== undefined && rewrite !== undefined) out.rewrite.uriRegex = { match, compiled, rewrite };
    }
  }
  const headers = readHeaderRules(r.field("headers"));
  if (headers) out.headers = headers;
  // The authority is set once: by rewrite.authority, or by a request header operation on it.
  const setsHost = (h?: HeaderRules) => h?.request && ("host" in h.request.set || "host" in h.request.add);
  if (out.rewrite?.authority !== undefined && (setsHost(headers) || out.route.some((d) => setsHost(d.headers)))) {
    r.field("headers").error("authority header cannot be set multiple times: rewrite.authority and a request header operation both set it");
  }
  const cors = readCorsPolicy(r.field("corsPolicy"));
  if (cors) out.corsPolicy = cors;
  out.timeoutMs = readDuration(r.field("timeout"));
  const rt = r.field("retries").object(["attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities", "retryIgnorePreviousHosts", "backoff"]);
  if (rt.present) {
    const attempts = rt.field("attempts").int({ min: 0 }) ?? 0;
    // ValidateHTTPRetry: settings on a retry policy that is off (0 attempts) are a mistake.
    if (attempts === 0 && (rt.field("perTryTimeout").present || rt.field("retryOn").present || rt.field("retryRemoteLocalities").present)) rt.error("http retry policy configured when attempts are set to 0 (disabled)");
    readMsDuration(rt.field("backoff"));
    out.retries = { attempts, perTryTimeoutMs: readMsDuration(rt.field("perTryTimeout")), ...readRetryOn(rt.field("retryOn")) };
  }
  readMirrors(r);
  const fault = r.field("fault").object(["abort", "delay"]);
  const abort = fault.field("abort").object(["httpStatus", "percentage", "grpcStatus", "http2Error"]);
  const grpcStatus = abort.field("grpcStatus").string();
  if (grpcStatus !== undefined && !GRPC_STATUSES.includes(grpcStatus)) abort.field("grpcStatus").error(`"${grpcStatus}" is not a gRPC status (${GRPC_STATUSES.join(", ")})`);
  if (abort.present) {
    out.fault = { abort: { httpStatus: abort.field("httpStatus").int({ min: 200, max: 599 }) ?? 503, percentage: readPercentage(abort) } };
  }
  const delay = fault.field("delay").object(["fixedDelay", "exponentialDelay", "percentage", "percent"]);
  if (delay.present) {
    const ms = readMsDuration(delay.field("fixedDelay"));
    if (ms === undefined) delay.field("fixedDelay").error("is required");
    else out.fault = { ...out.fault, delay: { ms, percentage: readPercentage(delay) } };
  }
  if (out.redirect?.prefixRewrite !== undefined && out.match.some((m) => m.uri && !("prefix" in m.uri))) {
    r.field("redirect").field("prefixRewrite").error("prefixRewrite needs prefix URI matches (or none): it replaces the matched prefix");
  }
  const actions = [route.length > 0, !!out.redirect, !!out.directResponse, r.field("delegate").present].filter(Boolean).length;
  if (actions === 0) r.error("must have one of route, redirect, directResponse or delegate");
  if (actions > 1) r.error("route, redirect, directResponse and delegate are mutually exclusive");
  return out;
}

/** The SNI Istio generates for AUTO_PASSTHROUGH (`outbound_.PORT_.SUBSET_.HOST`), valid as a host of a VirtualService bound to gateways. */
const isAutoSniHost = (h: string) => /^outbound_\.[0-9][^.]*_\.[^.]*_\.[a-zA-Z].*$/.test(h);

function readTlsRoute(r: Reader, index: number, onGateways: boolean): TlsRoute {
  r.object(["match", "route"]);
  const matches = r.field("match").list({ required: true }).map((m) => {
    m.object(["sniHosts", "destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace"]);
    const sniR = m.field("sniHosts");
    const sniHosts = sniR.strings({ required: true });
    sniHosts.forEach((h, i) => {
      const err = onGateways && isAutoSniHost(h) ? undefined : checkHost(h);
      if (err) sniR.error(err, `${sniR.path}[${i}]`);
    });
    return { sniHosts, port: m.field("port").port(), gateways: m.field("gateways").strings(), sourceLabels: m.field("sourceLabels").stringMap() };
  });
  return { index, match: matches, route: readDestinations(r.field("route"), true) };
}

function readTcpRoute(r: Reader, index: number): TcpRoute {
  r.object(["match", "route"]);
  const matches = r.field("match").list().map((m) => {
    m.object(["destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace", "sourceSubnet"]);
    return { port: m.field("port").port(), gateways: m.field("gateways").strings(), sourceLabels: m.field("sourceLabels").stringMap(), destinationSubnets: m.field("destinationSubnets").strings() };
  });
  return { index, match: matches, route: readDestinations(r.field("route"), true) };
}

/** `percentage.value` (or the deprecated integer `percent`); absent means every request. */
function readPercentage(r: Reader): number {
  const pct = r.field("percentage").object(["value"]);
  if (pct.present) return pct.field("value").number({ min: 0, max: 100 }) ?? 100;
  return r.field("percent").int({ min: 0, max: 100 }) ?? 100;
}

/**
 * Istio's `retryOn`: Envoy conditions and bare status codes, comma separated.
 * Without it, Istio's default applies (as for a route with no `retries`).
 */
function readRetryOn(r: Reader): Pick<RetryPolicy, "on" | "statusCodes"> {
  const s = r.string();
  if (s === undefined) return { ...DEFAULT_RETRY_ON };
  const on: RetryCondition[] = [];
  const statusCodes: number[] = [];
  for (const raw of s.split(",").map((x) => x.trim()).filter(Boolean)) {
    // A status code Go's net/http knows (100–599 with a name; approximated by range).
    if (/^\d{3}$/.test(raw) && Number(raw) >= 100 && Number(raw) <= 599) statusCodes.push(Number(raw));
    else if ((RETRY_CONDITIONS as readonly string[]).includes(raw)) on.push(raw as RetryCondition);
    else r.error(`"${raw}" is not a retry condition; use status codes or ${RETRY_CONDITIONS.join(", ")}`);
  }
  if (statusCodes.length && !on.includes("retriable-status-codes")) on.push("retriable-status-codes");
  return { on, statusCodes };
}

/** What Istio gives every HTTP route without `retries`: two retries on connection failures and 503. */
export const DEFAULT_RETRY_ON: Pick<RetryPolicy, "on" | "statusCodes"> = { on: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"], statusCodes: [503] };
export const DEFAULT_RETRIES: RetryPolicy = { attempts: 2, ...DEFAULT_RETRY_ON };
