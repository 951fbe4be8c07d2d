// The HTTP side of a listener: streams already known to carry HTTP/1.1 or
// HTTP/2 (prior knowledge, or ALPN h2 after TLS termination) go to one
// handler, and each request can be traced back to the stream it came on
// (for its peer identity and address).
import { resetLocallyBefore } from "./local-resets.js";
import { endStalledRequests } from "./stalled-requests.js";
import { createServer as createH1Server, type Server as H1Server } from "node:http";
import { constants as h2constants, createServer as createH2Server, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from "node:http2";
import type { Duplex } from "node:stream";
import type { HttpKind } from "../net/peek.js";
import { UPSTREAM_RESET_BODY } from "../policy/decision.js";
import { isH2, type ServerReply, type ServerRequest } from "./exchange.js";
import { rejectMalformed } from "./http-forward.js";
import { H2_EDGE, type H2Policy, type ListenerLimits } from "./limits.js";


export class HttpFront {
  private readonly h1: H1Server;
  private readonly h2: Http2Server;
  private readonly sessions = new WeakMap<ServerHttp2Session, Duplex>();

  /** `h2`: the HTTP/2 settings its clients get (H2_EDGE for clients outside the mesh and applications, H2_MESH for mesh peers). */
  constructor(handle: (req: ServerRequest, res: ServerReply) => void, limits: Pick<ListenerLimits, "headersTimeoutMs" | "idleMs" | "streamIdleMs">, h2: H2Policy = H2_EDGE) {
    // One bad request (an endpoint a peer announced wrong, a bug) must cost that request, never the proxy.
    const handler = (req: ServerRequest, res: ServerReply) => {
      try {
        handle(req, res);
      } catch {
        if (!res.headersSent) (res as { writeHead(s: number, h: Record<string, string>): { end(b: string): void } }).writeHead(503, { "content-type": "text/plain" }).end(UPSTREAM_RESET_BODY);
        else res.destroy();
      }
    };
    // Peers are proxies with pools of their own: keep idle connections as long as they do (a new mTLS handshake costs more than an idle socket).
    // A request's headers must arrive within the limit (a slow client answered 408 and closed); its body may take as long as it needs.
    this.h1 = createH1Server({ keepAliveTimeout: limits.idleMs, headersTimeout: limits.headersTimeoutMs, requestTimeout: 0, connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs / 2) }, handler);
    // A request whose body stops coming holds its connection only so long.
    endStalledRequests(this.h1, limits.streamIdleMs);
    this.h1.on("clientError", rejectMalformed);
    // Node checks headersTimeout only on servers that listen (tracking starts on "listening"); ours are handed sockets instead.
    this.h1.emit("listening");
    this.h2 = createH2Server({ settings: { ...h2.settings, enablePush: false } }, handler);
    this.h2.on("sessionError", () => {});
    this.h2.on("session", (s: ServerHttp2Session) => closeOnRapidReset(s, h2));
    // An HTTP/2 connection with nothing going on for idleMs is closed.
    this.h2.setTimeout(limits.idleMs);
  }

  /** Serves a stream whose first bytes said which HTTP it speaks. */
  take(stream: Duplex, kind: Exclude<HttpKind, false>): void {
    if (kind === "h1") {
      this.h1.emit("connection", stream);
    } else {
      this.h2.once("session", (s: ServerHttp2Session) => this.sessions.set(s, stream));
      this.h2.emit("connection", stream);
    }
    stream.resume();
  }

  /** The stream (TCP, mesh TLS, or terminated TLS) a request arrived on. */
  connectionOf(req: ServerRequest): Duplex | undefined {
    return isH2(req) ? this.sessions.get(req.stream.session as ServerHttp2Session) : req.socket;
  }
}

/** Closes a session whose streams end in resets right after they open (rapid reset), as its policy counts them; other sessions are untouched. */
function closeOnRapidReset(session: ServerHttp2Session, policy: H2Policy): void {
  let streams = 0;
  let prematureCount = 0;
  const premature: number[] = [];
  session.on("stream", (stream: ServerHttp2Stream) => {
    streams++;
    const opened = Date.now();
    stream.once("close", () => {
      const now = Date.now();
      // Only what the client reset counts: this proxy's own refusals are not the client's doing.
      if (stream.rstCode === h2constants.NGHTTP2_NO_ERROR || now - opened >= policy.prematureMs || resetLocallyBefore(stream)) return;
      prematureCount++;
      const window = policy.maxPremature;
      if (window) {
        premature.push(now);
        while (premature.length && premature[0]! < now - window.windowMs) premature.shift();
      }
      const abusive = window ? premature.length > window.count : streams >= (policy.minStreams ?? Infinity) && prematureCount * 2 > streams;
      if (abusive && !session.destroyed) {
        session.goaway(h2constants.NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      }
    });
  });
}
