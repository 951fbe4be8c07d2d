// HTTP/2 through the proxies: one multiplexed session per next hop (mesh
// mTLS, or h2c to a local application), and forwarding of one stream with
// its trailers (gRPC's status travels in them).
import { resetLocally } from "./local-resets.js";
import { UPSTREAM_CANCEL } from "./limits.js";
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { UPSTREAM_RESET_BODY } from "../policy/decision.js";
import { applyHeaderOps } from "../policy/header-ops.js";
import type { HttpRouteHandling } from "../policy/route-timing.js";
import type { Credentials } from "./credentials.js";
import { ForwardRun, REPLAY_LIMIT, retriableFailure, retriableStatus, type Failure, type ForwardSink } from "./http-forward.js";
import { IdleCache } from "./idle-cache.js";
import { bindFrom, plaintextSource } from "./source-address.js";
import { hopOnly, meshClientTls, type HopTarget } from "./upstream.js";

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2), besides pseudo-headers which are rebuilt per hop. */
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings", "expect"]);

/** A kept session is handed out again while it is open. */
const usableSession = (s: ClientHttp2Session): boolean => !s.closed && !s.destroyed;

/** Open HTTP/2 sessions by next hop; the key says what makes a session reusable (address, TLS, identity, certificate). */
export class H2Sessions {
  /** Closing a session is graceful: streams still open on it finish. */
  readonly cache: IdleCache<ClientHttp2Session>;

  /** `localAddress`: the workload's own address, the source of every session. */
  constructor(private readonly localAddress: string | undefined, limits: { idleMs: number; max: number; now?: () => number }, private readonly appSource?: string) {
    // Node keeps no public count of a session's open streams; a graceful close makes that safe.
    this.cache = new IdleCache({ ...limits, busy: () => false, close: (s) => s.close() });
  }

  get(key: string, to: HopTarget, creds: Credentials | undefined): ClientHttp2Session {
    return this.cache.use(key, usableSession) ?? this.cache.add(key, this.open(key, hopOnly(to), creds));
  }

  /** A new session to `t` (a copy of the hop: the session keeps what it needs to reconnect, nothing of the request). */
  private open(key: string, t: HopTarget, creds: Credentials | undefined): ClientHttp2Session {
    // The mesh ALPN marks the hop as mTLS for the peer's sniffing; HTTP/2 runs inside as prior knowledge.
    const session = h2connect(`http://${t.host}:${t.port}`, {
      createConnection: () => {
        if (t.mtls) return tlsConnect({ host: t.host, port: t.port, ...bindFrom(this.localAddress, t.host), ...meshClientTls(t, creds!) });
        return netConnect({ port: t.port, host: t.host, ...bindFrom(plaintextSource(this.localAddress, this.appSource, t.host), t.host) });
      },
    });
    // Every stream sent while the session connects waits for "connect" (to tell a connect failure from a reset).
    session.setMaxListeners(0);
    const forget = () => this.cache.delete(key, session);
    session.on("error", () => session.destroy());
    session.on("close", forget);
    session.on("goaway", forget);
    return session;
  }

  destroy(): void {
    for (const s of this.cache.drain()) s.destroy();
  }
}

/** The plain headers of an HTTP/2 request, with `host` taken from `:authority` (what policy and routing read). */
export function h2PlainHeaders(req: Http2ServerRequest): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(":") && v !== undefined) h[k] = Array.isArray(v) ? v.join(", ") : v;
  h.host = req.authority ?? h.host ?? "";
  return h;
}

function outgoing(headers: IncomingHttpHeaders | Record<string, string>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":") && !CONNECTION_SPECIFIC.has(k) && v !== undefined && !(k === "te" && v !== "trailers")) out[k] = v;
  return out;
}

/**
 * Sends one HTTP/2 stream on `session` and relays the answer, trailers
 * included, applying the route's delay, timeout and retries. The request body
 * streams upstream as it arrives (gRPC streaming calls keep working); a copy
 * of up to REPLAY_LIMIT bytes is kept so a retry can send it again.
 */
export function forwardH2(
  from: Http2ServerRequest, to: Http2ServerResponse, session: (attempt: number) => ClientHttp2Session | undefined,
  opts: { path: string; headers: Record<string, string>; route?: HttpRouteHandling; body?: Buffer },
  sink: ForwardSink,
): void {
  const route = opts.route;
  const maxAttempts = 1 + (route?.retries.attempts ?? 0);
  const run = new ForwardRun(sink);
  let current: ClientHttp2Stream | undefined;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let ended = false;

  const answer = (status: number, body: string, error: Error) => {
    if (!to.headersSent) to.writeHead(status, { "content-type": "text/plain" }).end(body);
    else resetLocally(to.stream, constants.NGHTTP2_INTERNAL_ERROR);
    run.finish({ status, error });
  };
  // A body already read (it went to an external authorizer) is the kept copy, complete.
  if (opts.body !== undefined) {
    kept.push(opts.body);
    keptBytes = opts.body.length;
    ended = true;
  } else from.on("data", (c: Buffer) => {
    // Before the first attempt everything is kept (it is the only copy); after it, only what a retry could resend.
    if (keptBytes <= REPLAY_LIMIT || !current) kept.push(c);
    keptBytes += c.length;
    // No upstream stream yet (a fault delay, a back-off): stop reading past what a retry keeps, so the client's
    // flow-control window closes instead of this proxy buffering the upload.
    if (!current && keptBytes > REPLAY_LIMIT) return void from.pause();
    if (current && !current.write(c)) {
      from.pause();
      current.once("drain", () => from.resume());
    }
  });
  if (opts.body === undefined) {
    from.on("end", () => {
      ended = true;
      current?.end();
    });
    // A body an authorizer read part of was paused with that part put back.
    from.resume();
  }
  // The client cancelled: cancel upstream too (within the shared session's budget).
  to.stream.on("close", () => {
    if (run.finished) return;
    if (current) cancelUpstream(current);
    run.finish({ error: new Error("client cancelled the stream") });
  });

  const canRetry = () => !run.finished && run.attempts < maxAttempts && keptBytes <= REPLAY_LIMIT;
  const retry = () => {
    if (current) cancelUpstream(current);
    current = undefined;
    run.retryAfterBackoff(attempt);
  };

  const attempt = () => {
    run.attempts++;
    const s = session(run.attempts);
    if (!s) return answer(503, "upstream connect error: no workload certificate yet", new Error("no workload certificate yet"));
    let connected = !s.connecting;
    if (!connected) s.once("connect", () => (connected = true));
    const up = s.request({ ...outgoing(opts.headers), ":method": from.method, ":path": opts.path, ":authority": opts.headers.host ?? from.authority, ":scheme": "http" });
    current = up;
    run.armPerTry(route, () => {
      if (route && retriableFailure(route.retries, "per-try-timeout") && canRetry()) return retry();
      cancelUpstream(up);
      answer(504, "upstream request timeout", new Error("per-try timeout"));
    });
    up.on("response", (headers, flags) => {
      const status = Number(headers[":status"] ?? 502);
      const back = route?.responseHeaders ? applyHeaderOps(outgoing(headers), route.responseHeaders) : outgoing(headers);
      const grpc = headers["grpc-status"];
      if (route && retriableStatus(route.retries, status, typeof grpc === "string" ? grpc : undefined) && canRetry()) return retry();
      clearTimeout(run.perTry);
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
        // A trailers-only answer (how gRPC reports an error) must stay one HEADERS frame that ends the stream.
        to.stream.respond({ ...back, ":status": status }, { endStream: true });
        return run.finish({ status });
      }
      to.writeHead(status, back);
      up.on("trailers", (t) => to.addTrailers(outgoing(t)));
      up.pipe(to);
      up.on("end", () => run.finish({ status }));
    });
    up.on("error", (e: NodeJS.ErrnoException) => {
      if (run.finished || current !== up) return;
      const f: Failure = up.rstCode === constants.NGHTTP2_REFUSED_STREAM ? "refused-stream" : !connected ? "connect-failure" : "reset";
      if (!to.headersSent && route && retriableFailure(route.retries, f) && canRetry()) return retry();
      answer(503, UPSTREAM_RESET_BODY, e);
    });
    for (const c of kept) up.write(c);
    if (ended) up.end();
    else if (from.isPaused()) from.resume();
  };

  run.begin(route, () => {
    if (current) cancelUpstream(current);
    answer(504, "upstream request timeout", new Error(`route timeout after ${route?.timeoutMs} ms`));
  }, attempt);
}

/** Resets per upstream session a client's cancellations may still cause: a bucket of UPSTREAM_CANCEL.burst, refilled at UPSTREAM_CANCEL.perSecond. */
const cancelBudgets = new WeakMap<object, { tokens: number; at: number; draining: number }>();

/**
 * Cancels an upstream stream its client gave up on (or a retry, a timeout replaced). Many clients share one session to a next hop, and a flood of
 * resets on it (one rapid-reset client relaying its own) would make the peer close it for all of them: beyond the
 * session's budget the stream is not reset but left to finish, its answer read and dropped.
 */
function cancelUpstream(up: ClientHttp2Stream): void {
  const now = Date.now();
  const session = up.session;
  if (!session) return void up.close(constants.NGHTTP2_CANCEL);
  const b = cancelBudgets.get(session) ?? { tokens: UPSTREAM_CANCEL.burst, at: now, draining: 0 };
  b.tokens = Math.min(UPSTREAM_CANCEL.burst, b.tokens + ((now - b.at) / 1000) * UPSTREAM_CANCEL.perSecond);
  b.at = now;
  cancelBudgets.set(session, b);
  // Past the budget a stream is drained, but only so many at once: drained streams hold the peer's stream slots
  // (a slow upstream), and beyond UPSTREAM_CANCEL.maxDraining a reset costs the others less than a full session.
  if (b.tokens >= 1 || b.draining >= UPSTREAM_CANCEL.maxDraining) {
    b.tokens = Math.max(0, b.tokens - 1);
    return void up.close(constants.NGHTTP2_CANCEL);
  }
  b.draining++;
  up.once("close", () => b.draining--);
  // Whatever it answers goes nowhere: no handler of the request it served may see it.
  for (const e of ["response", "trailers", "data", "end", "error"]) up.removeAllListeners(e);
  up.unpipe();
  up.on("error", () => {});
  up.resume();
  if (!up.writableEnded) up.end();
}
