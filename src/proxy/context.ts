import { reset } from "../net/connections.js";
import { resetLocally } from "./local-resets.js";
import { constants as h2constants } from "node:http2";
import type { Decision } from "../policy/decision.js";
import type { Env } from "../policy/context.js";
import type { Side } from "../policy/telemetry.js";
import type { Credentials } from "./credentials.js";
import type { ProxyState } from "./state.js";
import type { ForwardResult } from "./http-forward.js";
import type { Balancer } from "./balancer.js";
import type { BlockedEgressCounter } from "./blocked-egress.js";
import type { DenialCounter } from "./denials.js";
import type { ProxyMetrics } from "./metrics.js";
import type { Pools } from "./pool.js";
import type { LiveAnswers } from "./answers.js";
import type { ListenerLimits } from "./limits.js";

/** One access-log line: a request or connection, with the decision that handled it. */
export interface AccessLogEntry {
  time: string;
  proxy: string;
  direction: "outbound" | "inbound";
  protocol: "http" | "tcp" | "tls";
  method?: string;
  authority?: string;
  path?: string;
  status?: number;
  /** Connection-level result: reset, tls, refused… */
  error?: string;
  peer?: string;
  upstream?: string;
  /** Requests sent upstream when the route retried (absent for one). */
  attempts?: number;
  decision: Pick<Decision, "allow" | "reason" | "code" | "policy" | "rule">;
  durationMs: number;
  configVersion?: number;
}

/** What the listeners need from the sidecar that owns them. */
export interface ProxyContext {
  readonly id: string;
  /** The workload's own address: every connection the proxy opens leaves from it. */
  readonly address: string;
  /** In a pod, the source of connections to the application (127.0.0.6), so the capture does not take them back to the proxy. */
  readonly appSource?: string;
  state(): ProxyState | undefined;
  credentials(): Credentials | undefined;
  env(state: ProxyState): Env;
  /** Whether this side writes access logs (Telemetry, meshConfig); when not, listeners skip building entries (a measurable share of a request's CPU). */
  logs(side: Side): boolean;
  log(entry: AccessLogEntry): void;
  /** Keep-alive pools for HTTP to next hops and to the application. */
  readonly pools: Pools;
  /** What the engine asks the proxy to learn by I/O: token signatures, an external authorizer's verdict. */
  readonly answers: LiveAnswers;
  /** Endpoint choice, and the in-flight counts least request reads. */
  readonly balancer: Balancer;
  /** Where the local application listens for a workload port. */
  appTarget(port: number): { host: string; port: number } | undefined;
  /** Egress REGISTRY_ONLY blocked, counted for the control plane's alerts. */
  readonly blockedEgress: BlockedEgressCounter;
  /** Every refusal, counted with its trail for the control plane's denials list (the dashboard). */
  readonly denials: DenialCounter;
  /** Istio's standard metrics, served on the proxy's stats port. */
  readonly metrics: ProxyMetrics;
  /** Header time and connections per listener. */
  readonly limits: ListenerLimits;
}

/** The access-log fields of a forwarded request's result. */
export function attemptsOf(r: ForwardResult): Pick<AccessLogEntry, "status" | "error" | "attempts"> {
  return { status: r.status, error: r.error?.message, attempts: r.attempts > 1 ? r.attempts : undefined };
}

export function summary(d: Decision): AccessLogEntry["decision"] {
  return { allow: d.allow, reason: d.reason, code: d.code, policy: d.policy, rule: d.rule };
}

/** Ends one request the proxy refuses: an HTTP/2 stream is reset on its own, an HTTP/1.1 connection as a whole. */
export function abortRequest(req: { socket: { resetAndDestroy?: () => unknown; destroy: () => unknown }; stream?: { close(code?: number): void } }): void {
  if (req.stream) resetLocally(req.stream, h2constants.NGHTTP2_REFUSED_STREAM);
  else reset(req.socket);
}
