// The sidecar's inbound side: one listener per workload port (or, in a pod,
// one for every port, by original destination). Mesh mTLS
// (a ClientHello offering the mesh ALPN) is terminated here; plaintext and an
// application's own TLS pass as they are. Every request or connection is
// decided by the engine before it reaches the application.
import { reset } from "../net/connections.js";
import { H2_MESH } from "./limits.js";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Server as TlsServer } from "node:tls";
import type { Duplex } from "node:stream";
import { isHttpOrAuto } from "../api/protocol.js";
import { decideInbound, plaintextRefused } from "../policy/engine.js";
import type { Peer } from "../policy/inbound.js";
import { DenyCodes, type Decision } from "../policy/decision.js";
import type { Request } from "../policy/request.js";
import { Registry } from "../registry/registry.js";
import { DEFAULT_HTTP_ROUTE } from "../policy/route-timing.js";
import type { ProxyState } from "./state.js";
import { abortRequest, type ProxyContext } from "./context.js";
import { accessLog, applyHttp, applyTcp } from "./apply.js";
import { isGrpc } from "./metric-labels.js";
import { inboundSeries } from "./metric-series.js";
import { badRequest, bodyReader, requestHeaders, targetPath, type ServerReply, type ServerRequest } from "./exchange.js";
import { HttpFront } from "./http-front.js";
import { SNIFF_TIMEOUT_MS, httpKind, peek } from "../net/peek.js";
import { meshTlsServer } from "./mesh-tls.js";
import { MESH_ALPN, sniffStream } from "./sniff.js";
import { bindFrom, plaintextSource } from "./source-address.js";
import { originalDestination } from "../net/original-dst.js";

export function inboundServer(ctx: ProxyContext, port: number): Server {
  // No Nagle: a response written in pieces must not wait for the peer's delayed ACK (40 ms stalls).
  return createServer({ noDelay: true }, inboundHandler(ctx, port));
}

/** What one workload port does with each connection that arrives for it. */
function inboundHandler(ctx: ProxyContext, port: number): (socket: Socket) => void {
  const front: HttpFront = new HttpFront((req, res) => onHttp(ctx, port, front, req, res), ctx.limits, H2_MESH);
  const mtls = meshTlsServer(ctx, (tls, peer) => void serve(ctx, port, tls, peer, false, front).catch(() => tls.destroy()));
  return (socket) => void accept(ctx, port, socket, front, mtls).catch(() => reset(socket));
}

/**
 * The inbound side of a pod's sidecar (transparent capture, node/capture.ts): every connection to the pod arrives
 * here redirected and is handled as its original port's, declared or not (Istio's inbound passthrough). One made
 * straight to this port, or redirected from one of the proxy's own ports, is refused.
 */
export function capturedInboundServer(ctx: ProxyContext, ownPorts: ReadonlySet<number>): Server {
  const handlers = new Map<number, (socket: Socket) => void>();
  return createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => {});
    const dest = originalDestination(socket);
    if (!dest || ownPorts.has(dest.port)) return void reset(socket);
    let handle = handlers.get(dest.port);
    if (!handle) handlers.set(dest.port, (handle = inboundHandler(ctx, dest.port)));
    handle(socket);
  });
}

const peers = new WeakMap<object, Peer | undefined>();

async function accept(ctx: ProxyContext, port: number, socket: Socket, front: HttpFront, mtls: TlsServer): Promise<void> {
  socket.on("error", () => {});
  if (!ctx.state()) return void reset(socket); // fail closed without configuration
  const first = await sniffStream(socket);
  if (first.kind === "tls" && first.invalid) return void reset(socket);
  if (first.kind === "tls" && first.alpn.includes(MESH_ALPN)) {
    if (!ctx.credentials()) return void reset(socket);
    mtls.emit("connection", socket);
    return;
  }
  // STRICT: plaintext is refused at its first bytes, before a slow client can hold the connection over its headers.
  const state = ctx.state()!;
  if (plaintextRefused(state.snapshot, state.workload, port)) {
    accessLog(ctx, "SERVER", "inbound", { protocol: "tcp", error: "reset" }, { allow: false, reason: `${state.workload.id} requires mutual TLS (STRICT) on port ${port} and the client sent plaintext`, code: DenyCodes.MTLS_REQUIRED }, undefined, state);
    return void reset(socket);
  }
  await serve(ctx, port, socket, undefined, first.kind === "tls" ? first.sni ?? "" : undefined, front);
}

/** One inbound stream, after mTLS (when any): HTTP requests one by one (HTTP/1.1 or HTTP/2), or one TCP connection. */
async function serve(ctx: ProxyContext, port: number, stream: Duplex, peer: Peer | undefined, appTlsSni: string | false | undefined, front: HttpFront): Promise<void> {
  const state = ctx.state();
  if (!state) return void stream.destroy();
  const appTls = typeof appTlsSni === "string";
  const protocol = Registry.of(state.snapshot).portProtocol(state.workload, port);
  const kind = !appTls && isHttpOrAuto(protocol) ? await peek(stream, httpKind, { afterMs: SNIFF_TIMEOUT_MS, value: false }) : false;
  if (kind) {
    peers.set(stream, peer);
    return front.take(stream, kind);
  }
  const started = Date.now();
  const sourceIp = (stream as Socket).remoteAddress;
  const request: Request = { scheme: appTls ? "https" : "tcp", host: appTls ? appTlsSni : "", port, method: "CONNECT", path: "", headers: {} };
  const d = await ctx.answers.decide(state, (env) => decideInbound(env, state.workload, port, { mtlsFrom: peer, sourceIp }, request));
  const o = d.outcome;
  await applyTcp({
    ctx, state, d, started, side: "SERVER", direction: "inbound", request, peer: peer?.spiffe ?? sourceIp, stream,
    series: inboundSeries(state, peer, port, "tcp"),
    log: { protocol: appTls ? "tls" : "tcp", peer: peer?.spiffe },
    open: async () => {
      const app = o.kind === "deliver" ? ctx.appTarget(o.port) : undefined;
      if (!app) throw new Error("no application");
      return { up: connect({ port: app.port, host: app.host, ...bindFrom(plaintextSource(ctx.address, ctx.appSource, app.host), app.host) }), upstream: `${app.host}:${app.port}` };
    },
  });
}

const NO_IDENTITIES: string[] = [];

function onHttp(ctx: ProxyContext, port: number, front: HttpFront, req: ServerRequest, res: ServerReply): void {
  const started = Date.now();
  const state = ctx.state();
  if (!state) return void abortRequest(req);
  const conn = front.connectionOf(req);
  const peer = conn ? peers.get(conn) : undefined;
  const headers = requestHeaders(req);
  // Only the sidecar may tell the application who called.
  delete headers["x-forwarded-client-cert"];
  const path = targetPath(req.url, headers, state.snapshot.mesh.pathNormalization);
  if (path === undefined) return badRequest(res);
  const request: Request = { scheme: "http", host: (headers.host ?? "").replace(/:\d+$/, ""), port, method: req.method ?? "GET", path, headers };
  const body = bodyReader(req);
  const decided = ctx.answers.decide(state, (env) => decideInbound(env, state.workload, port, { mtlsFrom: peer, sourceIp: (conn as Socket | undefined)?.remoteAddress }, request), body);
  if (decided instanceof Promise) return void decided.then((d) => applyHttpInbound(ctx, port, state, peer, req, res, request, headers, started, d, body.taken), () => abortRequest(req));
  applyHttpInbound(ctx, port, state, peer, req, res, request, headers, started, decided);
}

/** An inbound HTTP decision: the application it is delivered to, with the headers the decision adds or removes. */
function applyHttpInbound(ctx: ProxyContext, port: number, state: ProxyState, peer: Peer | undefined, req: ServerRequest, res: ServerReply, request: Request, headers: Record<string, string>, started: number, d: Decision, body?: Buffer): void {
  const o = d.outcome;
  const app = o.kind === "deliver" ? ctx.appTarget(o.port) : undefined;
  // The application hears the request in the version it was sent (HTTP/2 as h2c).
  // An in-place merge rather than spreads: this runs for every request (headers is this request's own copy).
  if (o.kind === "deliver") {
    Object.assign(headers, o.headers);
    if (o.remove) for (const h of o.remove) delete headers[h];
  }
  const route = o.kind === "deliver" && o.responseHeaders ? { ...DEFAULT_HTTP_ROUTE, responseHeaders: o.responseHeaders } : undefined;
  applyHttp({
    ctx, state, d, started, side: "SERVER", direction: "inbound", request, peer: peer?.spiffe ?? req.socket?.remoteAddress, req, res,
    series: inboundSeries(state, peer, port, isGrpc(headers) ? "grpc" : "http"),
    log: { protocol: "http", method: request.method, authority: headers.host, path: request.path, peer: peer?.spiffe },
    target: app ? { host: app.host, port: app.port, mtls: false, identities: NO_IDENTITIES, servicePort: port } : undefined,
    send: { path: request.path, headers, route, body },
  });
}
