// Time along a request's path: fault delays, route timeouts and retries.
// The live proxy enforces them with real timers; the static engine adds up
// the delays it knows (fault delays, the stand-in's /delay/N) and reports
// the timer that would fire first.
import { DEFAULT_RETRIES } from "../api/kinds/virtual-service.js";
import type { HeaderOperations, RetryPolicy } from "../api/types.js";

/** What the proxy that routes an HTTP request does besides choosing the destination. */
export interface HttpRouteHandling {
  /** Whole-request deadline (VirtualService `timeout`); none when absent, as in Istio. */
  timeoutMs?: number;
  retries: RetryPolicy;
  /** A fault delay drawn for this request. */
  delayMs?: number;
  /** The request as this proxy sends it, when the route changed it (rewrite, header operations). */
  request?: { path: string; headers: Record<string, string> };
  /** Header operations for the response on its way back through this proxy. */
  responseHeaders?: HeaderOperations[];
}

/** Istio's default for an HTTP route without a VirtualService: no timeout, two retries on connection failures and 503. */
export const DEFAULT_HTTP_ROUTE: HttpRouteHandling = { retries: DEFAULT_RETRIES };

export interface RouteTimer {
  /** When the timer started, in ms since the request left the client. */
  startMs: number;
  timeoutMs: number;
  at: string;
  policy?: string;
  rule?: string;
  kind: "timeout" | "perTryTimeout";
}

export interface Timing {
  elapsedMs: number;
  timers: RouteTimer[];
}

export const newTiming = (): Timing => ({ elapsedMs: 0, timers: [] });

/** The first timer to fire before an answer that arrives at `answeredAtMs`, if any. */
export function firstExpired(timing: Timing, answeredAtMs: number): RouteTimer | undefined {
  const fired = timing.timers.filter((t) => t.startMs + t.timeoutMs < answeredAtMs);
  return fired.sort((a, b) => a.startMs + a.timeoutMs - (b.startMs + b.timeoutMs))[0];
}

export const formatMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
