// The sidecar's outbound side: an HTTP proxy (absolute-form requests and
// CONNECT tunnels) that the application reaches through HTTP_PROXY/HTTPS_PROXY
// in loopback mode, or the port a pod's captured connections are redirected to.
import { BoundedMap } from "../bounded-map.js";
import { reset } from "../net/connections.js";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { originalDestination } from "../net/original-dst.js";
import { decideOutbound } from "../policy/engine.js";
import { DenyCodes } from "../policy/decision.js";
import type { Request } from "../policy/request.js";
import { abortRequest, type ProxyContext } from "./context.js";
import { applyHttp, applyTcp, openForward } from "./apply.js";
import { isGrpc } from "./metric-labels.js";
import { outboundSeries } from "./metric-series.js";
import { badRequest, relayTarget, requestHeaders, type ServerReply, type ServerRequest } from "./exchange.js";
import { HttpFront } from "./http-front.js";
import { endStalledRequests } from "./stalled-requests.js";
import { rejectMalformed } from "./http-forward.js";
import { SNIFF_TIMEOUT_MS, httpKind, peek, type HttpKind } from "../net/peek.js";
import { sniff } from "./sniff.js";
import { normalizePath, splitAbsoluteForm } from "../policy/path-normalization.js";


export function outboundServer(ctx: ProxyContext): Server {
  const tunnel = tunnelFront(ctx);
  const server = createServer({ noDelay: true, keepAliveTimeout: ctx.limits.idleMs, headersTimeout: ctx.limits.headersTimeoutMs, requestTimeout: 0 }, (req, res) => {
    try {
      onRequest(ctx, req, res);
    } catch {
      res.destroy();
    }
  });
  endStalledRequests(server, ctx.limits.streamIdleMs);
  server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => void onConnect(ctx, req, socket, head, tunnel).catch(() => reset(socket)));
  server.on("clientError", rejectMalformed);
  return server;
}

/**
 * The outbound side of a pod's sidecar (transparent capture, node/capture.ts): every connection the application
 * makes arrives here redirected, and goes on as a CONNECT to its original destination would. A connection made
 * straight to this port (no original destination of its own) is refused: it would loop.
 */
export function capturedOutboundServer(ctx: ProxyContext): NetServer {
  const tunnel = tunnelFront(ctx);
  return createNetServer({ noDelay: true }, (socket) => {
    socket.on("error", () => {});
    const dest = originalDestination(socket);
    if (!dest) return void reset(socket);
    void onTunnel(ctx, socket, dest, tunnel).catch(() => reset(socket));
  });
}

type TunnelHttp = (s: Socket, dest: { host: string; port: number }, kind: "h1" | "h2") => void;

/** HTTP inside a tunnel (a CONNECT, or a captured connection) is decided request by request, like absolute-form requests. */
function tunnelFront(ctx: ProxyContext): TunnelHttp {
  const tunnels = new WeakMap<object, { host: string; port: number }>();
  const inTunnel: HttpFront = new HttpFront((req, res) => {
    const conn = inTunnel.connectionOf(req);
    const dest = conn ? tunnels.get(conn) : undefined;
    if (!dest) return void abortRequest(req);
    onRequest(ctx, req, res, dest); // HttpFront answers a request whose handling throws
  }, ctx.limits);
  return (s, dest, kind) => {
    tunnels.set(s, dest);
    inTunnel.take(s, kind);
  };
}

/** One request: absolute-form to the proxy, or origin-form inside a tunnel to `dest`. */
function onRequest(ctx: ProxyContext, req: ServerRequest, res: ServerReply, dest?: { host: string; port: number }): void {
  const started = Date.now();
  const state = ctx.state();
  // Absolute form (the application uses the sidecar as its HTTP proxy), or a tunnel's request: its destination is
  // where the connection goes (a captured connection's original destination); an absolute-form target inside it
  // gives only the Host the request carries, as Envoy reads it.
  const absolute = splitAbsoluteForm(req.url ?? "");
  const authority = absolute && hostAndPort(absolute.authority);
  if (absolute ? !authority : !dest) {
    res.writeHead(400).end("zeromesh sidecar: send absolute-form requests (use it as HTTP_PROXY)\n");
    return;
  }
  if (!state) {
    // Fail closed until the first configuration arrives.
    abortRequest(req);
    return;
  }
  const headers = requestHeaders(req);
  delete headers["proxy-connection"];
  const path = normalizePath(absolute ? absolute.target : req.url ?? "/", state.snapshot.mesh.pathNormalization);
  if ("error" in path) return badRequest(res);
  const host = dest ? dest.host : authority!.host;
  const port = dest ? dest.port : authority!.port;
  if (absolute) headers.host = absolute.authority;
  if (!headers.host) headers.host = `${host}:${port}`;
  const request: Request = { scheme: "http", host, port, method: req.method ?? "GET", path: path.path, headers };
  const d = decideOutbound(ctx.env(state), state.workload, request);
  if (d.code === DenyCodes.REGISTRY_ONLY) ctx.blockedEgress.add(request.host, port, "http", d, new Date());
  const o = d.outcome;
  // What the route made of the request (rewrite, header operations), else the request as it came.
  const send = (o.kind === "forward" && o.http?.request) || request;
  applyHttp({
    ctx, state, d, started, side: "CLIENT", direction: "outbound", request, req, res,
    series: outboundSeries(state, d, request.host, isGrpc(headers) ? "grpc" : "http"),
    log: { protocol: "http", method: request.method, authority: request.headers.host, path: request.path },
    target: o.kind === "forward" ? relayTarget(state, o) : undefined,
    send: { path: send.path, headers: send.headers, route: o.kind === "forward" ? o.http : undefined },
  });
}

async function onConnect(ctx: ProxyContext, req: IncomingMessage, socket: Socket, head: Buffer, http: TunnelHttp): Promise<void> {
  socket.on("error", () => {});
  // The CONNECT target read as a URL host is (0x7f.1, 2130706433 and 0177.0.0.1 are 127.0.0.1), so policy sees the address it is.
  const connectTo = /^\S+:\d+$/.test(req.url ?? "") ? hostAndPort(req.url!) : undefined;
  if (!ctx.state() || !connectTo) return void reset(socket);
  if (head.length) socket.unshift(head);
  socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
  await onTunnel(ctx, socket, connectTo, http);
}

/** A connection to `connectTo` (a CONNECT's target, or a captured connection's original destination). */
async function onTunnel(ctx: ProxyContext, socket: Socket, connectTo: Readonly<{ host: string; port: number }>, http: TunnelHttp): Promise<void> {
  const started = Date.now();
  const state = ctx.state();
  if (!state) return void reset(socket); // fail closed without configuration
  // What follows decides the scheme: a ClientHello is TLS (routed by SNI), HTTP is decided per request, anything else is opaque TCP.
  type Kind = { kind: "tls"; sni?: string; invalid?: string } | { kind: "plaintext"; http: HttpKind };
  const kind = await peek(socket, (buf, ended): Kind | undefined => {
    const s = sniff(buf);
    if (s.kind === "tls") return s;
    if (s.kind === "need-more") return ended ? { kind: "plaintext", http: false } : undefined;
    const http = httpKind(buf, ended);
    return http === undefined ? undefined : { kind: "plaintext", http };
  }, { afterMs: SNIFF_TIMEOUT_MS, value: { kind: "plaintext", http: false } });
  if (kind.kind === "tls" && kind.invalid) return void reset(socket);
  const host = kind.kind === "tls" && kind.sni ? kind.sni.toLowerCase() : connectTo.host;
  const port = connectTo.port;
  if (kind.kind === "plaintext" && kind.http) return http(socket, { host, port }, kind.http);
  const request: Request = { scheme: kind.kind === "tls" ? "https" : "tcp", host, port, method: "CONNECT", path: "", headers: {} };
  const d = decideOutbound(ctx.env(state), state.workload, request);
  if (d.code === DenyCodes.REGISTRY_ONLY) ctx.blockedEgress.add(host, port, kind.kind === "tls" ? "tls" : "tcp", d, new Date());
  const o = d.outcome;
  await applyTcp({
    ctx, state, d, started, side: "CLIENT", direction: "outbound", request, stream: socket,
    series: o.kind === "forward" ? outboundSeries(state, d, host, "tcp") : "",
    log: { protocol: kind.kind === "tls" ? "tls" : "tcp", authority: `${host}:${port}` },
    open: () => openForward(ctx, state, o),
  });
}

type HostAndPort = Readonly<{ host: string; port: number }>;

/** Authorities parsed lately: an application calls the same few hosts over and over, and a URL costs more than the rest of the request's parsing. */
const parsed = new BoundedMap<string, HostAndPort | undefined>(1024);
/** Longer authorities (no real host name is) are parsed each time: a cache of them could pin megabytes. */
const MAX_CACHED_LENGTH = 260;

/** An absolute-form target's host (WHATWG host parsing: lower case, IPv4 in any notation as dotted quad) and port. */
function hostAndPort(authority: string): HostAndPort | undefined {
  if (parsed.has(authority)) return parsed.get(authority);
  let out: HostAndPort | undefined;
  try {
    const u = new URL(`http://${authority}/`);
    out = Object.freeze({ host: u.hostname.toLowerCase().replace(/^\[|\]$/g, ""), port: u.port ? Number(u.port) : 80 });
  } catch {
    out = undefined;
  }
  if (authority.length <= MAX_CACHED_LENGTH) parsed.set(authority, out);
  return out;
}
