// Sends one HTTP request to the next hop and streams the answer back to the
// waiting client, applying the route's fault delay, timeout and retries as
// Envoy's router does.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { UPSTREAM_RESET_BODY } from "../policy/decision.js";
import { applyHeaderOps } from "../policy/header-ops.js";
import type { Duplex } from "node:stream";
import type { RetryCondition, RetryPolicy } from "../api/types.js";
import type { HttpRouteHandling } from "../policy/route-timing.js";
import { abortRequest } from "./context.js";

// `expect` too: a proxy answers 100 Continue itself and sends the body on without it (Envoy's default,
// proxy_100_continue off); undici refuses to send it at all, which reset every upload curl made over 1 MB.
export const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "expect"]);
/** Bodies up to this size are kept so a retry can send them again (Envoy buffers for the same reason). */
export const REPLAY_LIMIT = 64 * 1024;
const BACKOFF_BASE_MS = 25;
const BACKOFF_MAX_MS = 250;

/** Envoy's retry back-off: fully jittered, doubling from 25 ms up to 250 ms. */
function backoffMs(attemptsSoFar: number): number {
  return Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attemptsSoFar - 1));
}

export interface Upstream {
  /** The connection pool for an attempt (1 = the chosen endpoint; retries may go to another). */
  dispatcherFor: (attempt: number) => Dispatcher;
}

export interface ForwardOptions {
  path: string;
  headers: Record<string, string>;
  /** The route's delay, timeout and retries; absent for the last hop to the application (one attempt, no deadline). */
  route?: HttpRouteHandling;
  /** The request body, already read (it went to an external authorizer): sent as is, instead of reading the client's stream. */
  body?: Buffer;
}

/** Who hears how a forward ended (an object rather than a callback: the relay that sends a request is its sink). */
export interface ForwardSink {
  forwarded(r: ForwardResult): void;
}

export interface ForwardResult {
  status?: number;
  error?: Error;
  /** Requests sent upstream, retries included. */
  attempts: number;
}

/** Why an attempt failed before the response headers arrived. */
export type Failure = "connect-failure" | "reset" | "per-try-timeout" | "refused-stream";

const GRPC_CONDITIONS: Partial<Record<RetryCondition, string>> = { cancelled: "1", "deadline-exceeded": "4", "resource-exhausted": "8", internal: "13", unavailable: "14" };

/** Envoy's retry conditions for an answer that did arrive. */
export function retriableStatus(p: RetryPolicy, status: number, grpcStatus: string | undefined): boolean {
  // Most answers are 2xx with no grpc-status, which only a listed status code could retry: asked of every response.
  if (status < 400 && grpcStatus === undefined && !p.statusCodes.includes(status)) return false;
  return p.on.some((c) =>
    (c === "5xx" && status >= 500) ||
    (c === "gateway-error" && (status === 502 || status === 503 || status === 504)) ||
    (c === "retriable-4xx" && status === 409) ||
    (c === "retriable-status-codes" && p.statusCodes.includes(status)) ||
    (grpcStatus !== undefined && GRPC_CONDITIONS[c] === grpcStatus));
}

/** Envoy's retry conditions for an attempt that got no answer. */
export function retriableFailure(p: RetryPolicy, f: Failure): boolean {
  return p.on.some((c) =>
    c === "5xx" ||
    (c === "gateway-error" && f !== "reset") ||
    (c === "connect-failure" && f === "connect-failure") ||
    (c === "refused-stream" && f === "refused-stream") ||
    (c === "reset" && f !== "connect-failure"));
}

const CONNECT_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"]);

/** Errors raised while opening the connection (see pool.ts's connectors) are connect failures; the rest are resets. */
function classify(e: NodeJS.ErrnoException & { zmConnect?: boolean }): Failure {
  if (e instanceof PerTryTimeout) return "per-try-timeout";
  if (e.zmConnect || (e.code !== undefined && CONNECT_CODES.has(e.code))) return "connect-failure";
  return "reset";
}

class PerTryTimeout extends Error {}

/** One forward's bookkeeping, HTTP/1.1 or HTTP/2: attempts made, timers to clear, and a single report when it ends. */
export class ForwardRun {
  attempts = 0;
  finished = false;
  /** The status relayed to the client, once there is one. */
  status: number | undefined;
  deadline: NodeJS.Timeout | undefined;
  perTry: NodeJS.Timeout | undefined;

  constructor(private readonly sink: ForwardSink) {}

  finish(r: Omit<ForwardResult, "attempts">): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    clearTimeout(this.perTry);
    this.sink.forwarded({ status: r.status, error: r.error, attempts: this.attempts });
  }

  /** Waits out the route's fault delay, arms its whole-request deadline, then makes the first attempt. */
  begin(route: HttpRouteHandling | undefined, onDeadline: () => void, attempt: () => void): void {
    const start = () => {
      if (this.finished) return;
      if (route?.timeoutMs) this.deadline = setTimeout(onDeadline, route.timeoutMs);
      attempt();
    };
    if (route?.delayMs) setTimeout(start, route.delayMs);
    else start();
  }

  /** Arms the per-try timeout of the attempt being made (a retry re-arms it). */
  armPerTry(route: HttpRouteHandling | undefined, onTimeout: () => void): void {
    clearTimeout(this.perTry);
    if (route?.retries.perTryTimeoutMs) this.perTry = setTimeout(onTimeout, route.retries.perTryTimeoutMs);
  }

  /** Makes the next attempt after Envoy's jittered back-off. */
  retryAfterBackoff(attempt: () => void): void {
    clearTimeout(this.perTry);
    setTimeout(() => !this.finished && attempt(), backoffMs(this.attempts)).unref();
  }
}

export function forwardHttp(from: IncomingMessage, to: ServerResponse, upstream: Upstream, opts: ForwardOptions, sink: ForwardSink): void {
  const f = new HttpForward(from, to, upstream, opts, sink);
  if (opts.body !== undefined) return f.start(opts.body);
  if (!f.replayable || f.length === 0) return f.start(undefined);
  const chunks: Buffer[] = [];
  from.on("data", (c: Buffer) => chunks.push(c));
  from.on("end", () => f.start(Buffer.concat(chunks)));
  // A body an authorizer read part of was paused with that part put back.
  from.resume();
}

/**
 * One HTTP/1.1 forward: its attempts, and undici's handler for the attempt under way. One object per request, so
 * that a request allocates its state once rather than a closure per callback.
 */
class HttpForward extends ForwardRun implements Dispatcher.DispatchHandler {
  /** The request's headers as they go on: a flat list (name, value, …), hop-by-hop ones left out. */
  private readonly headers: string[] = [];
  private readonly method: Dispatcher.HttpMethod;
  private readonly route: HttpRouteHandling | undefined;
  readonly length: number;
  /** A body we cannot keep is streamed once: no retries for it. */
  readonly replayable: boolean;
  private readonly maxAttempts: number;
  /** The body every attempt sends, once read (undefined: none, or streamed from the client). */
  private body: Buffer | undefined;
  private current: Dispatcher.DispatchController | undefined;
  /** This attempt's answer is being relayed to the client; or read and dropped before a retry. */
  private relaying = false;
  private discarding = false;

  constructor(private readonly from: IncomingMessage, private readonly to: ServerResponse, private readonly upstream: Upstream, private readonly opts: ForwardOptions, sink: ForwardSink) {
    super(sink);
    const given = opts.headers;
    const headers = this.headers;
    // for…in rather than Object.entries: no array of pairs per request on this path.
    for (const k in given) if (!HOP_BY_HOP.has(k) && (opts.body === undefined || k !== "content-length")) headers.push(k, given[k]!);
    if (opts.body !== undefined) headers.push("content-length", String(opts.body.length));
    this.route = opts.route;
    const chunked = opts.body === undefined && from.headers["transfer-encoding"] !== undefined;
    this.length = opts.body?.length ?? Number(from.headers["content-length"] ?? 0);
    this.replayable = !chunked && this.length <= REPLAY_LIMIT;
    this.maxAttempts = this.replayable ? 1 + (this.route?.retries.attempts ?? 0) : 1;
    this.method = (from.method ?? "GET") as Dispatcher.HttpMethod;
    // The client went away: stop working on its behalf.
    to.on("close", this.onClientClose);
  }

  private readonly onClientClose = () => {
    if (!this.finished && !this.to.writableFinished) {
      this.current?.abort(new Error("client closed the connection"));
      this.finish({ error: new Error("client closed the connection") });
    }
  };

  /** Waits out the route's fault delay, arms its deadline, then makes the first attempt with `body`. */
  start(body: Buffer | undefined): void {
    // The client may have gone while its body was read: nothing is sent for it then.
    if (this.finished) return;
    this.body = body;
    if (!this.route?.delayMs && !this.route?.timeoutMs) return this.attempt();
    this.begin(this.route, () => this.onDeadline(), () => this.attempt());
  }

  private attempt(): void {
    this.attempts++;
    this.relaying = false;
    this.discarding = false;
    const route = this.route;
    // The timer is re-armed for each attempt, so when it fires `current` is this attempt's request.
    if (route?.retries.perTryTimeoutMs) this.armPerTry(route, () => this.current?.abort(new PerTryTimeout("per-try timeout")));
    const body = this.body ?? (this.replayable ? null : this.from);
    this.upstream.dispatcherFor(this.attempts).dispatch({ method: this.method, path: this.opts.path, headers: this.headers, body }, this);
  }

  private retry(): void {
    this.retryAfterBackoff(() => this.attempt());
  }

  private fail(f: Failure, e: Error): void {
    const to = this.to;
    if (to.headersSent) {
      to.destroy();
      return this.finish({ error: e });
    }
    // The next hop reset the request (a denial at the destination): the client sees the reset too.
    if (f === "reset") {
      abortRequest(this.from);
      return this.finish({ error: e });
    }
    const [status, body] = f === "per-try-timeout" ? [504, "upstream request timeout"] : [503, UPSTREAM_RESET_BODY];
    to.writeHead(status, { "content-type": "text/plain" }).end(body);
    this.finish({ status, error: e });
  }

  private onDeadline(): void {
    this.current?.abort(new Error("route timeout"));
    if (this.to.headersSent) this.to.destroy();
    else this.to.writeHead(504, { "content-type": "text/plain" }).end("upstream request timeout");
    this.finish({ status: 504, error: new Error(`route timeout after ${this.route?.timeoutMs} ms`) });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.current = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, resHeaders: Record<string, string | string[] | undefined>): void {
    const route = this.route;
    const grpc = resHeaders["grpc-status"];
    if (route && this.replayable && this.attempts < this.maxAttempts && retriableStatus(route.retries, statusCode, typeof grpc === "string" ? grpc : undefined)) {
      this.discarding = true; // read and drop this answer, then try again
      return;
    }
    const out: OutgoingHttpHeaders = {};
    for (const k in resHeaders) {
      const v = resHeaders[k];
      if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    }
    this.to.writeHead(statusCode, route?.responseHeaders ? applyHeaderOps(out, route.responseHeaders) : out);
    this.relaying = true;
    this.status = statusCode;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.relaying || this.to.write(chunk)) return;
    controller.pause();
    this.to.once("drain", () => controller.resume());
  }

  onResponseEnd(): void {
    if (this.discarding) return this.retry();
    clearTimeout(this.perTry);
    this.to.end();
    this.finish({ status: this.status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, e: NodeJS.ErrnoException & { zmConnect?: boolean }): void {
    if (this.finished) return;
    if (this.relaying) return this.fail("reset", e);
    const f = classify(e);
    const route = this.route;
    // A pooled connection the next hop had already closed is not an upstream failure: send once more.
    const stale = f === "reset" && this.attempts === 1 && this.replayable;
    if (stale || (route && retriableFailure(route.retries, f) && this.attempts < this.maxAttempts)) return this.retry();
    this.fail(f, e);
  }
}

export function plainHeaders(req: IncomingMessage): Record<string, string> {
  const h: Record<string, string> = {};
  for (const k in req.headers) {
    const v = req.headers[k];
    if (v !== undefined) h[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return h;
}

/** A request the parser refuses gets a proper answer (431 for oversized headers, 408 for headers too slow, else 400), then the connection closes. */
export function rejectMalformed(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const [status, text] = err.code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large"] : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "Request Timeout"] : [400, "Bad Request"];
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
}
