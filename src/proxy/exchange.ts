// One HTTP request at a proxy, whichever version it arrived in: the headers
// policy reads, and the relay to the next hop (HTTP/2 streams on a shared
// session, HTTP/1.1 on a keep-alive pool).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { PathNormalization } from "../api/mesh.js";
import { BAD_REQUEST, UPSTREAM_RESET_BODY, type OutlierPlan, type Outcome, type PoolLimits } from "../policy/decision.js";
import type { HttpRouteHandling } from "../policy/route-timing.js";
import type { ProxyContext } from "./context.js";
import { forwardH2, h2PlainHeaders } from "./h2.js";
import type { ForwardOptions } from "./http-forward.js";
import type { BodyReader } from "./answers.js";
import { forwardHttp, plainHeaders, type ForwardResult } from "./http-forward.js";
import { normalizePath, splitAbsoluteForm } from "../policy/path-normalization.js";
import { resolveHop, type ProxyState } from "./state.js";
import { BoundedMap } from "../bounded-map.js";
import { endpointName } from "../registry/registry.js";
import type { HopTarget } from "./upstream.js";

export type ServerRequest = IncomingMessage | Http2ServerRequest;
export type ServerReply = ServerResponse | Http2ServerResponse;

export const isH2 = (req: ServerRequest): req is Http2ServerRequest => req.httpVersionMajor === 2;

export function requestHeaders(req: ServerRequest): Record<string, string> {
  return isH2(req) ? h2PlainHeaders(req) : plainHeaders(req);
}

/**
 * The request's target as the proxy decides on it and forwards it (Envoy's order): an absolute-form target gives the
 * authority (it replaces Host in `headers`) and the path; the path is normalized as meshConfig pathNormalization says.
 * Undefined: a target no proxy accepts (the caller answers 400, as the engine does for it).
 */
export function targetPath(raw: string | undefined, headers: Record<string, string>, mode: PathNormalization): string | undefined {
  let target = raw ?? "";
  const absolute = splitAbsoluteForm(target);
  if (absolute) {
    headers.host = absolute.authority;
    target = absolute.target;
  }
  const n = normalizePath(target, mode);
  return "error" in n ? undefined : n.path;
}

/**
 * The request body for an external authorizer (includeRequestBodyInCheck), read only when one asks, and only as
 * far as it needs: a body that ends within `max` bytes is kept (`taken`) and sent upstream from memory; a longer
 * one has what was read put back in the stream, paused, and streams on when forwarded (the forwarders resume it).
 */
export function bodyReader(req: ServerRequest): RequestBody {
  return new RequestBody(req);
}

/** One object per request (no closures until an authorizer asks to read). */
class RequestBody implements BodyReader {
  taken: Buffer | undefined;

  constructor(private readonly req: ServerRequest) {}

  read(max: number): Promise<{ bytes: Buffer; truncated: boolean }> {
    const req = this.req;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const detach = () => {
        req.off("data", onData);
        req.off("end", onEnd);
        req.off("error", onError);
        req.off("close", onClose);
      };
      const onData = (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size <= max) return;
        req.pause();
        detach();
        const read = Buffer.concat(chunks);
        req.unshift(read);
        resolve({ bytes: read.subarray(0, max), truncated: true });
      };
      const onEnd = () => {
        detach();
        this.taken = Buffer.concat(chunks);
        resolve({ bytes: this.taken, truncated: false });
      };
      const onError = (e: Error) => (detach(), reject(e));
      const onClose = () => (detach(), reject(new Error("the client went away")));
      req.on("data", onData);
      req.once("end", onEnd);
      req.once("error", onError);
      req.once("close", onClose);
    });
  }
}

/** The answer to a target `targetPath` refused. */
export function badRequest(res: ServerReply): void {
  res.writeHead(BAD_REQUEST.status, { "content-type": "text/plain" }).end(BAD_REQUEST.body);
}

export interface RelayTarget extends HopTarget {
  /** TLS originated by this proxy toward a host outside the mesh, verified against `outsideRoots`. */
  originateTls?: { sni: string; outsideRoots?: string };
  /** The endpoint ("workload:port") a request counts against while in flight, for least request. */
  endpoint?: string;
  /** Where retry `attempt` (2, 3…) goes: another live endpoint of the destination when there is one. */
  retryTarget?: (attempt: number) => HopTarget;
  /** The DestinationRule's outlier detection, judging `endpoint`'s answers. */
  outlier?: OutlierPlan;
  /** The DestinationRule's connection pool: beyond it, requests overflow. */
  pool?: PoolLimits;
}

type Forward = Extract<Outcome, { kind: "forward" }>;

/** Endpoint names, each made once: a string built per request costs its hashing again at every count it keys. */
const endpointNames = new BoundedMap<string, Map<number, string>>(4096);

function endpointNameOf(workload: string, port: number): string {
  let byPort = endpointNames.get(workload);
  if (!byPort) endpointNames.set(workload, (byPort = new Map()));
  let name = byPort.get(port);
  if (name === undefined) byPort.set(port, (name = endpointName(workload, port)));
  return name;
}

/** The next hop of a forward decision, resolved to live addresses (undefined when the chosen endpoint is not live). */
export function relayTarget(state: ProxyState, o: Forward): RelayTarget | undefined {
  const at = resolveHop(state, o);
  if (!at) return undefined;
  // One literal of one shape (no spreads): this runs for every forwarded request.
  let alternates: HopTarget[] | undefined;
  const target: RelayTarget = {
    host: at.host, port: at.port, mtls: o.mtls, identities: o.identities, serviceHost: o.host, servicePort: o.port,
    endpoint: o.workload ? endpointNameOf(o.workload, o.port) : undefined,
    outlier: o.outlier,
    pool: o.pool,
    originateTls: o.originateTls ? { sni: o.host ?? at.host, outsideRoots: state.config.outsideRoots } : undefined,
    // Resolved on the first retry only: most requests never need them.
    retryTarget: (attempt) => {
      alternates ??= (o.alternates ?? []).flatMap((a) => {
        const x = resolveHop(state, a);
        return x ? [{ host: x.host, port: x.port, mtls: o.mtls, identities: o.identities, serviceHost: o.host, servicePort: o.port }] : [];
      });
      return alternates.length ? alternates[(attempt - 2) % alternates.length]! : target;
    },
  };
  return target;
}

/**
 * Relays the request to the next hop. HTTP/2 stays HTTP/2 (trailers and all)
 * to mesh hops and local applications; TLS origination speaks HTTP/1.1.
 * Returns false when the hop cannot be reached yet (no workload certificate).
 */
export function relay(
  ctx: ProxyContext, req: ServerRequest, res: ServerReply, t: RelayTarget,
  opts: ForwardOptions,
  onDone: (r: ForwardResult) => void,
): boolean {
  if (t.pool && ctx.balancer.load(t.pool.key) >= (isH2(req) ? t.pool.h2 : t.pool.h1)) {
    // Envoy's circuit breaker: the request is not sent at all.
    res.writeHead(503, { "content-type": "text/plain", "x-envoy-overloaded": "true" }).end(`${UPSTREAM_RESET_BODY}. reset reason: overflow`);
    onDone({ status: 503, attempts: 0, error: new Error("overflow: the DestinationRule's connectionPool is full") });
    return true;
  }
  const ended = t.endpoint ? ctx.balancer.begin(t.endpoint, t.pool?.key) : undefined;
  const judged = t.outlier && t.endpoint ? judge(ctx, t.endpoint, t.outlier, onDone) : onDone;
  const sent = send(ctx, req, res, t, opts, ended ? (r) => (ended(), judged(r)) : judged);
  if (!sent) ended?.();
  return sent;
}

/**
 * Reports the first endpoint's answer to outlier detection. A request that was retried failed there first
 * (counted as a gateway error: the retry conditions are 5xx, resets and connect failures); the endpoints
 * retries went to are not judged.
 */
function judge(ctx: ProxyContext, endpoint: string, plan: OutlierPlan, onDone: (r: ForwardResult) => void): (r: ForwardResult) => void {
  return (r) => {
    ctx.balancer.report(endpoint, plan.key, r.attempts > 1 ? 503 : r.status ?? 0, plan.policy, plan.hosts);
    onDone(r);
  };
}

function send(
  ctx: ProxyContext, req: ServerRequest, res: ServerReply, t: RelayTarget,
  opts: ForwardOptions,
  onDone: (r: ForwardResult) => void,
): boolean {
  const creds = ctx.credentials();
  // A retry goes to an endpoint not tried yet when there is one (Envoy's previous-hosts predicate), else the same.
  const targetOf = (attempt: number): HopTarget => (attempt > 1 && t.retryTarget ? t.retryTarget(attempt) : t);
  if (isH2(req) && !t.originateTls) {
    if (!ctx.pools.h2For(t, creds)) return false;
    // Each attempt asks again: a retry after a broken connection gets a fresh session.
    forwardH2(req, res as Http2ServerResponse, (attempt) => ctx.pools.h2For(targetOf(attempt), ctx.credentials()), opts, onDone);
    return true;
  }
  const first = t.originateTls ? ctx.pools.originate(t.host, t.port, t.originateTls.sni, t.originateTls.outsideRoots) : ctx.pools.poolFor(t, creds);
  if (!first) return false;
  const dispatcherFor = (attempt: number) => (attempt === 1 || t.originateTls ? first : ctx.pools.poolFor(targetOf(attempt), ctx.credentials()) ?? first);
  forwardHttp(req as IncomingMessage, res as ServerResponse, { dispatcherFor }, opts, onDone);
  return true;
}
