// HTTP/2 through the proxies: one multiplexed session per next hop (mesh
// mTLS, or h2c to a local application), and forwarding of one stream with
// its trailers (gRPC's status travels in them).
import { connect as h2connect, constants, type ClientHttp2Session, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { HttpRouteHandling } from "../policy/route-timing.js";
import type { Credentials } from "./credentials.js";
import type { ForwardResult } from "./http-forward.js";
import { meshClientTls, type HopTarget } from "./upstream.js";

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2), besides pseudo-headers which are rebuilt per hop. */
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings"]);

/** Open HTTP/2 sessions by next hop; the key says what makes a session reusable (address, TLS, identity, certificate). */
export class H2Sessions {
  private readonly sessions = new Map<string, ClientHttp2Session>();

  get(key: string, t: HopTarget, creds: Credentials | undefined): ClientHttp2Session {
    const open = this.sessions.get(key);
    if (open && !open.closed && !open.destroyed) return open;
    // The mesh ALPN marks the hop as mTLS for the peer's sniffing; HTTP/2 runs inside as prior knowledge.
    const session = h2connect(`http://${t.host}:${t.port}`, {
      createConnection: () => (t.mtls ? tlsConnect({ host: t.host, port: t.port, ...meshClientTls(t, creds!) }) : netConnect(t.port, t.host)),
    });
    const forget = () => this.sessions.get(key) === session && this.sessions.delete(key);
    session.on("error", () => session.destroy());
    session.on("close", forget);
    session.on("goaway", forget);
    this.sessions.set(key, session);
    return session;
  }

  destroy(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
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
 * included. The route's delay and timeout apply; retries do not (a stream's
 * body is not kept), which the closing note of the gateway issue records.
 */
export function forwardH2(
  from: Http2ServerRequest, to: Http2ServerResponse, session: ClientHttp2Session,
  opts: { path: string; headers: Record<string, string>; route?: HttpRouteHandling },
  onDone: (r: ForwardResult) => void,
): void {
  let finished = false;
  const finish = (r: Omit<ForwardResult, "attempts">) => {
    if (finished) return;
    finished = true;
    clearTimeout(deadline);
    onDone({ ...r, attempts: 1 });
  };
  let deadline: NodeJS.Timeout | undefined;
  const start = () => {
    const up = session.request({ ...outgoing(opts.headers), ":method": from.method, ":path": opts.path, ":authority": opts.headers.host ?? from.authority, ":scheme": "http" });
    if (opts.route?.timeoutMs) {
      deadline = setTimeout(() => {
        up.close(constants.NGHTTP2_CANCEL);
        if (!to.headersSent) to.writeHead(504, { "content-type": "text/plain" }).end("upstream request timeout");
        else to.stream.close(constants.NGHTTP2_CANCEL);
        finish({ status: 504, error: new Error(`route timeout after ${opts.route?.timeoutMs} ms`) });
      }, opts.route.timeoutMs);
    }
    up.on("response", (headers, flags) => {
      const status = Number(headers[":status"] ?? 502);
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
        // A trailers-only answer (how gRPC reports an error) must stay one HEADERS frame that ends the stream.
        to.stream.respond({ ...outgoing(headers), ":status": status }, { endStream: true });
        return finish({ status });
      }
      to.writeHead(status, outgoing(headers));
      up.on("trailers", (t) => to.addTrailers(outgoing(t)));
      up.pipe(to);
      up.on("end", () => finish({ status }));
    });
    up.on("error", (e) => {
      if (!to.headersSent) to.writeHead(503, { "content-type": "text/plain" }).end("upstream connect error or disconnect/reset before headers");
      else to.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      finish({ status: 503, error: e });
    });
    // The client cancelled: cancel upstream too.
    to.stream.on("close", () => {
      if (!finished) {
        up.close(constants.NGHTTP2_CANCEL);
        finish({ error: new Error("client cancelled the stream") });
      }
    });
    from.pipe(up);
  };
  if (opts.route?.delayMs) setTimeout(start, opts.route.delayMs);
  else start();
}
