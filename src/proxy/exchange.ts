// One HTTP request at a proxy, whichever version it arrived in: the headers
// policy reads, and the relay to the next hop (HTTP/2 streams on a shared
// session, HTTP/1.1 on a keep-alive pool).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { PathNormalization } from "../api/mesh.js";
import { BAD_REQUEST, UPSTREAM_RESET_BODY, type OutlierPlan, type Outcome, type PoolLimits } from "../policy/decision.js";
import type { ProxyContext } from "./context.js";
import { forwardH2, h2PlainHeaders } from "./h2.js";
import type { BodyReader } from "./answers.js";
import { forwardHttp, plainHeaders, type ForwardOptions, type ForwardResult, type ForwardSink, type Upstream } from "./http-forward.js";
import { normalizePath, splitAbsoluteForm } from "../policy/path-normalization.js";
import { resolveHop, type ProxyState } from "./state.js";
import { hopOnly, type HopTarget } from "./upstream.js";
import type { InFlight } from "./balancer.js";
import type { Dispatcher } from "undici";

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
  /** The decision's other endpoints of the destination, where retries go (resolved against `state` on a first retry). */
  alternates?: readonly Hop[];
  /** The configuration the decision was made on. */
  state?: ProxyState;
  /** The DestinationRule's outlier detection, judging `endpoint`'s answers. */
  outlier?: OutlierPlan;
  /** The DestinationRule's connection pool: beyond it, requests overflow. */
  pool?: PoolLimits;
}

type Forward = Extract<Outcome, { kind: "forward" }>;
type Hop = NonNullable<Forward["alternates"]>[number];

/** The next hop of a forward decision, resolved to live addresses (undefined when the chosen endpoint is not live). */
export function relayTarget(state: ProxyState, o: Forward): RelayTarget | undefined {
  const at = resolveHop(state, o);
  if (!at) return undefined;
  // One literal of one shape (no spreads, no closures): this runs for every forwarded request.
  return {
    host: at.host, port: at.port, mtls: o.mtls, identities: o.identities, serviceHost: o.host, servicePort: o.port,
    endpoint: o.endpoint,
    alternates: o.alternates, state,
    outlier: o.outlier,
    pool: o.pool,
    originateTls: o.originateTls ? { sni: o.host ?? at.host, outsideRoots: state.config.outsideRoots } : undefined,
  };
}

/**
 * Relays the request to the next hop. HTTP/2 stays HTTP/2 (trailers and all)
 * to mesh hops and local applications; TLS origination speaks HTTP/1.1.
 * Returns false when the hop cannot be reached yet (no workload certificate).
 * `end(of, result)` is called once when the exchange is over (`of` is the caller's, handed back).
 */
export function relay<C>(
  ctx: ProxyContext, req: ServerRequest, res: ServerReply, t: RelayTarget,
  opts: ForwardOptions,
  end: (of: C, r: ForwardResult) => void, of: C,
): boolean {
  if (t.pool && ctx.balancer.load(t.pool.key) >= (isH2(req) ? t.pool.h2 : t.pool.h1)) {
    // Envoy's circuit breaker: the request is not sent at all.
    res.writeHead(503, { "content-type": "text/plain", "x-envoy-overloaded": "true" }).end(`${UPSTREAM_RESET_BODY}. reset reason: overflow`);
    end(of, { status: 503, attempts: 0, error: new Error("overflow: the DestinationRule's connectionPool is full") });
    return true;
  }
  return new Relay(ctx, t, end, of).send(req, res, opts);
}

/**
 * One request on its way to the next hop, from its first attempt to its end: the pool each attempt uses (a retry goes
 * to an endpoint not tried yet when there is one: Envoy's previous-hosts predicate), the in-flight counts least request
 * and circuit breaking read, and the answer outlier detection judges. One object per request, where there were a
 * closure for each of these.
 */
class Relay<C> implements Upstream, ForwardSink {
  private first: Dispatcher | undefined;
  private retryHops: HopTarget[] | undefined;
  private counted: InFlight | undefined;
  private countedPool: InFlight | undefined;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly t: RelayTarget,
    private readonly end: (of: C, r: ForwardResult) => void,
    private readonly of: C,
  ) {}

  send(req: ServerRequest, res: ServerReply, opts: ForwardOptions): boolean {
    const { ctx, t } = this;
    if (isH2(req) && !t.originateTls) {
      if (!ctx.pools.h2For(t, ctx.credentials())) return false;
      this.enter();
      // Each attempt asks again: a retry after a broken connection gets a fresh session.
      forwardH2(req, res as Http2ServerResponse, (attempt) => ctx.pools.h2For(this.hopOf(attempt), ctx.credentials()), opts, this);
      return true;
    }
    this.first = t.originateTls ? ctx.pools.originate(t.host, t.port, t.originateTls.sni, t.originateTls.outsideRoots) : ctx.pools.poolFor(t, ctx.credentials());
    if (!this.first) return false;
    this.enter();
    forwardHttp(req as IncomingMessage, res as ServerResponse, this, opts, this);
    return true;
  }

  dispatcherFor(attempt: number): Dispatcher {
    if (attempt === 1 || this.t.originateTls) return this.first!;
    return this.ctx.pools.poolFor(this.hopOf(attempt), this.ctx.credentials()) ?? this.first!;
  }

  /** Where attempt `attempt` goes: the chosen endpoint first, then the destination's others in turn (resolved on the first retry only). */
  private hopOf(attempt: number): HopTarget {
    const t = this.t;
    if (attempt === 1 || !t.alternates?.length || !t.state) return t;
    this.retryHops ??= t.alternates.flatMap((a) => {
      const x = resolveHop(t.state!, a);
      return x ? [hopOnly(t, x)] : [];
    });
    return this.retryHops.length ? this.retryHops[(attempt - 2) % this.retryHops.length]! : t;
  }

  /** Counts the request as in flight to its endpoint (and its service port, for the connection pool's limit). */
  private enter(): void {
    const { balancer } = this.ctx;
    if (!this.t.endpoint) return;
    this.counted = balancer.enter(this.t.endpoint);
    if (this.t.pool) this.countedPool = balancer.enter(this.t.pool.key);
  }

  /**
   * The forward is over (the forwarders report once). Outlier detection hears the first endpoint's answer: a request
   * that was retried failed there first (counted as a gateway error: the retry conditions are 5xx, resets and connect
   * failures); the endpoints retries went to are not judged.
   */
  forwarded(r: ForwardResult): void {
    const { balancer } = this.ctx;
    const { endpoint, pool, outlier } = this.t;
    // Each count is given back once, whatever calls this (the forwarders report once).
    const { counted, countedPool } = this;
    this.counted = this.countedPool = undefined;
    if (counted) balancer.leave(endpoint!, counted);
    if (countedPool) balancer.leave(pool!.key, countedPool);
    if (outlier && endpoint) balancer.report(endpoint, outlier.key, r.attempts > 1 ? 503 : r.status ?? 0, outlier.policy, outlier.hosts);
    this.end(this.of, r);
  }
}
