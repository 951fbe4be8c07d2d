// The sidecar's inbound side: one listener per workload port. Mesh mTLS
// (a ClientHello offering the mesh ALPN) is terminated here; plaintext and an
// application's own TLS pass as they are. Every request or connection is
// decided by the engine before it reaches the application.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Server as TlsServer } from "node:tls";
import type { Duplex } from "node:stream";
import { isHttpOrAuto } from "../api/protocol.js";
import { decideInbound } from "../policy/engine.js";
import type { Peer } from "../policy/inbound.js";
import type { Decision } from "../policy/decision.js";
import type { Request } from "../policy/request.js";
import { Registry } from "../registry/registry.js";
import { attemptsOf, reset, summary, type AccessLogEntry, type ProxyContext } from "./context.js";
import { forwardHttp, plainHeaders, rejectMalformed } from "./http-forward.js";
import { SNIFF_TIMEOUT_MS, looksLikeHttp, peek } from "./peek.js";
import { meshTlsServer } from "./mesh-tls.js";
import { MESH_ALPN, sniff } from "./sniff.js";
import { splice } from "./splice.js";

export function inboundServer(ctx: ProxyContext, port: number): Server {
  const http = createHttpServer();
  http.on("request", (req: IncomingMessage, res: ServerResponse) => onHttp(ctx, port, req, res));
  http.on("clientError", rejectMalformed);
  const mtls = meshTlsServer(ctx, (tls, peer) => void serve(ctx, port, tls, peer, false, http).catch(() => tls.destroy()));
  return createServer((socket) => void accept(ctx, port, socket, http, mtls).catch(() => reset(socket)));
}

const peers = new WeakMap<object, Peer | undefined>();

async function accept(ctx: ProxyContext, port: number, socket: Socket, http: HttpServer, mtls: TlsServer): Promise<void> {
  socket.on("error", () => {});
  if (!ctx.state()) return void reset(socket); // fail closed without configuration
  const first = await peek(socket, (buf, ended) => {
    const s = sniff(buf);
    return s.kind === "need-more" ? (ended ? ({ kind: "plaintext" } as const) : undefined) : s;
  }, { afterMs: SNIFF_TIMEOUT_MS, value: { kind: "plaintext" } as const });
  if (first.kind === "tls" && first.alpn.includes(MESH_ALPN)) {
    if (!ctx.credentials()) return void reset(socket);
    mtls.emit("connection", socket);
    return;
  }
  await serve(ctx, port, socket, undefined, first.kind === "tls" ? first.sni ?? "" : undefined, http);
}

/** One inbound stream, after mTLS (when any): HTTP requests one by one, or one TCP connection. */
async function serve(ctx: ProxyContext, port: number, stream: Duplex, peer: Peer | undefined, appTlsSni: string | false | undefined, http: HttpServer): Promise<void> {
  const state = ctx.state();
  if (!state) return void stream.destroy();
  const appTls = typeof appTlsSni === "string";
  const protocol = Registry.of(state.snapshot).portProtocol(state.workload, port);
  const isHttp = !appTls && isHttpOrAuto(protocol) && (await peek(stream, looksLikeHttp, { afterMs: SNIFF_TIMEOUT_MS, value: false }));
  if (isHttp) {
    peers.set(stream, peer);
    http.emit("connection", stream);
    stream.resume();
    return;
  }
  const started = Date.now();
  const sourceIp = (stream as Socket).remoteAddress;
  const request: Request = { scheme: appTls ? "https" : "tcp", host: appTls ? appTlsSni : "", port, method: "CONNECT", path: "", headers: {} };
  const d = decideInbound(ctx.env(state), state.workload, port, { mtlsFrom: peer, sourceIp }, request);
  const log = (extra: Partial<AccessLogEntry>) => ctx.log({ time: new Date().toISOString(), proxy: ctx.id, direction: "inbound", protocol: appTls ? "tls" : "tcp", peer: peer?.spiffe, decision: summary(d), durationMs: Date.now() - started, configVersion: state.version, ...extra });
  const o = d.outcome;
  const app = o.kind === "deliver" ? ctx.appTarget(o.port) : undefined;
  if (!app) {
    log({ error: o.kind === "error" ? o.error : "no application" });
    return void reset(stream as Socket);
  }
  splice(stream, connect(app.port, app.host), () => log({ upstream: `${app.host}:${app.port}` }));
}

function onHttp(ctx: ProxyContext, port: number, req: IncomingMessage, res: ServerResponse): void {
  const started = Date.now();
  const state = ctx.state();
  if (!state) return void reset(req.socket);
  const peer = peers.get(req.socket);
  const headers = plainHeaders(req);
  // Only the sidecar may tell the application who called.
  delete headers["x-forwarded-client-cert"];
  const request: Request = { scheme: "http", host: (headers.host ?? "").replace(/:\d+$/, ""), port, method: req.method ?? "GET", path: req.url ?? "/", headers };
  const d: Decision = decideInbound(ctx.env(state), state.workload, port, { mtlsFrom: peer, sourceIp: req.socket.remoteAddress }, request);
  const log = (extra: Partial<AccessLogEntry>) => ctx.log({ time: new Date().toISOString(), proxy: ctx.id, direction: "inbound", protocol: "http", method: request.method, authority: headers.host, path: request.path, peer: peer?.spiffe, decision: summary(d), durationMs: Date.now() - started, configVersion: state.version, ...extra });
  const o = d.outcome;
  if (o.kind === "response") {
    res.writeHead(o.status, o.headers ?? {}).end(o.body ?? "");
    return log({ status: o.status });
  }
  const app = o.kind === "deliver" ? ctx.appTarget(o.port) : undefined;
  if (!app) {
    log({ error: o.kind === "error" ? o.error : "no application listening" });
    return void reset(req.socket);
  }
  forwardHttp(req, res, { ...app, agent: ctx.pools.local, tls: false }, { path: request.path, headers: { ...headers, ...(o.kind === "deliver" ? o.headers : {}) } }, (r) => log({ ...attemptsOf(r), upstream: `${app.host}:${app.port}` }));
}
