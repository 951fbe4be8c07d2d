// The one place a proxy carries out a Decision, whichever listener asked for it (a sidecar's outbound or inbound
// side, a gateway): the answer the engine chose, a refusal (a reset), or the exchange relayed to where it goes (the
// next hop, or the application); and for each, the denial count, Istio's metrics and the access-log line. Listeners
// only read the request, ask the engine, and say where a forward or a delivery goes.
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import type { Decision } from "../policy/decision.js";
import type { Request } from "../policy/request.js";
import type { Side } from "../policy/telemetry.js";
import { reset } from "../net/connections.js";
import { abortRequest, attemptsOf, summary, type AccessLogEntry, type ProxyContext } from "./context.js";
import { relay, relayTarget, type RelayTarget, type ServerReply, type ServerRequest } from "./exchange.js";
import type { ForwardOptions, ForwardResult } from "./http-forward.js";
import { splice } from "./splice.js";
import type { ProxyState } from "./state.js";
import { HopError, hopOnly, openHop } from "./upstream.js";

/** Where a decision was asked: the denials list names it, the access log says inbound or outbound. */
export type Direction = "inbound" | "outbound" | "gateway";

/** An access-log line's own fields (the rest: time, proxy, decision, duration and config version, are filled in here). */
type LogFields = Omit<AccessLogEntry, "time" | "proxy" | "decision" | "durationMs" | "configVersion" | "direction"> & { direction?: AccessLogEntry["direction"] };

/**
 * Writes one access-log line. With a side, only when that side logs (Telemetry, meshConfig); without one (the
 * proxy's own failures, such as a handshake no decision was made for), whenever the proxy has a log. The config
 * version is the one the decision was made on, when there was one.
 */
export function accessLog(ctx: ProxyContext, side: Side | undefined, direction: Direction, fields: LogFields, decision: AccessLogEntry["decision"], started?: number, state = ctx.state()): void {
  if (side !== undefined && !ctx.logs(side)) return;
  ctx.log({
    time: new Date().toISOString(), proxy: ctx.id, direction: direction === "outbound" ? "outbound" : "inbound", ...fields,
    decision, durationMs: started === undefined ? 0 : Date.now() - started, configVersion: state?.version,
  });
}

/** What every carried-out decision has: the proxy, the decision, and how it is counted. */
interface Carried {
  ctx: ProxyContext;
  state: ProxyState;
  d: Decision;
  started: number;
  /** Whose metrics and access log: a sidecar's outbound side and a gateway count as CLIENT, a sidecar's inbound side as SERVER. */
  side: Side;
  direction: Direction;
  /** The request as the engine saw it, for the denials list. */
  request: Request;
  /** Who asked: the peer's identity when mTLS proved one, else its address. */
  peer?: string;
  /** The metric series (metric-series.ts). */
  series: string;
  /** The access log's fields for this exchange (protocol, method, authority, path, peer…). */
  log: LogFields;
}

export interface HttpExchange extends Carried {
  req: ServerRequest;
  res: ServerReply;
  /** Where a forward or a delivery goes; undefined: nowhere live (a forward answers 503, a delivery is reset). */
  target?: RelayTarget;
  /** The request as it goes on (the route's rewrite and header operations, the body read for an authorizer). */
  send: ForwardOptions;
}

/** Carries out an HTTP decision: its answer, a reset, or the request relayed to `target`. */
export function applyHttp(x: HttpExchange): void {
  const { ctx, d, req, res } = x;
  ctx.denials.add(x.direction, x.request, d, x.peer);
  const o = d.outcome;
  if (o.kind === "response") {
    res.writeHead(o.status, o.headers ?? {}).end(o.body ?? "");
    return httpDone(x, o.status);
  }
  const target = x.target;
  if (!target || (o.kind !== "forward" && o.kind !== "deliver")) {
    if (o.kind === "forward") {
      res.writeHead(503, { "content-type": "text/plain" }).end("no healthy upstream");
      return httpDone(x, 503, { error: `no live endpoint for ${o.workload ?? o.address}:${o.port}` });
    }
    httpDone(x, undefined, { error: o.kind === "error" ? o.error : o.kind === "deliver" ? "no application listening" : o.kind });
    return void abortRequest(req);
  }
  const sent = relay(ctx, req, res, target, x.send, relayed, x);
  if (!sent) {
    res.writeHead(503, { "content-type": "text/plain" }).end("upstream connect error: no workload certificate yet");
    httpDone(x, 503, { error: "no workload certificate yet" });
  }
}

/** The end of a relayed exchange; the access log, when there is one, also says how it went upstream. */
function relayed(x: HttpExchange, r: ForwardResult): void {
  httpDone(x, r.status, x.ctx.logs(x.side) ? { ...attemptsOf(r), upstream: `${x.target!.host}:${x.target!.port}` } : undefined);
}

/** The end of one HTTP exchange: its metrics, and its access-log line (status undefined: no response). */
function httpDone(x: HttpExchange, status: number | undefined, extra?: Partial<LogFields>): void {
  x.ctx.metrics.request(x.side, x.series, status ?? 0, Date.now() - x.started);
  if (!x.ctx.logs(x.side)) return;
  accessLog(x.ctx, x.side, x.direction, status === undefined ? { ...x.log, ...extra } : { ...x.log, status, ...extra }, summary(x.d), x.started, x.state);
}

export interface TcpExchange extends Carried {
  stream: Duplex;
  /** Opens the connection a forward or a delivery goes to, or throws why it cannot. */
  open(): Promise<{ up: Duplex; upstream: string }>;
}

/** Carries out a connection's decision: a reset, or the connection spliced to where it goes. */
export async function applyTcp(x: TcpExchange): Promise<void> {
  const { ctx, d } = x;
  ctx.denials.add(x.direction, x.request, d, x.peer);
  const o = d.outcome;
  const log = (extra: Partial<LogFields>) => accessLog(ctx, x.side, x.direction, { ...x.log, ...extra }, summary(d), x.started, x.state);
  if (o.kind !== "forward" && o.kind !== "deliver") {
    log({ error: o.kind === "error" ? o.error : o.kind === "response" ? `http ${o.status}` : o.kind });
    return void reset(x.stream as Socket);
  }
  try {
    const { up, upstream } = await x.open();
    ctx.metrics.tcpOpened(x.side, x.series);
    splice(x.stream, up, () => {
      ctx.metrics.tcpClosed(x.side, x.series);
      log({ upstream });
    });
  } catch (e) {
    log({ error: (e as Error).message });
    reset(x.stream as Socket);
  }
}

/** The connection a forward decision goes to: its next hop, over mesh mTLS when the decision says so. */
export async function openForward(ctx: ProxyContext, state: ProxyState, o: Decision["outcome"]): Promise<{ up: Duplex; upstream: string }> {
  if (o.kind !== "forward") throw new Error(`not a forward: ${o.kind}`);
  const target = relayTarget(state, o);
  if (!target) throw new HopError(`no live endpoint for ${o.workload}:${o.port}`, "refused");
  // The connection (which may stay open for an hour) keeps the hop alone, not the configuration it was decided on.
  const up = await openHop(hopOnly(target), ctx.credentials(), ctx.address);
  return { up, upstream: `${target.host}:${target.port}` };
}
