// Sends one HTTP request over an already-open next-hop socket and streams
// the answer back to the waiting client.
import { request, type Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";

const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];

export interface Upstream {
  host: string;
  port: number;
  /** A pooled keep-alive agent (plain or mTLS). */
  agent: HttpAgent | HttpsAgent;
  tls: boolean;
}

export function forwardHttp(
  from: IncomingMessage, to: ServerResponse, upstream: Upstream,
  opts: { path: string; headers: Record<string, string> },
  onDone: (status: number | undefined, error?: Error) => void,
): void {
  const headers: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(opts.headers)) if (!HOP_BY_HOP.includes(k)) headers[k] = v;
  const send = upstream.tls ? httpsRequest : request;
  const up = send({ host: upstream.host, port: upstream.port, agent: upstream.agent, method: from.method, path: opts.path, headers });
  up.on("response", (r) => {
    const out: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(r.headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) out[k] = v;
    to.writeHead(r.statusCode ?? 502, out);
    r.pipe(to);
    r.on("end", () => onDone(r.statusCode));
  });
  up.on("error", (e: NodeJS.ErrnoException) => {
    // The next hop reset the request (a denial at the destination): the client sees the reset too.
    // A peer that is not who the destination runs as is a failed connect (503), not a reset.
    if (!to.headersSent && (e.code === "ECONNRESET" || e.message === "socket hang up")) {
      from.socket.resetAndDestroy();
      return onDone(undefined, e);
    }
    if (!to.headersSent) {
      to.writeHead(503, { "content-type": "text/plain" });
      to.end("upstream connect error or disconnect/reset before headers");
    } else to.destroy();
    onDone(503, e);
  });
  from.pipe(up);
}

export function plainHeaders(req: IncomingMessage): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(", ") : v;
  return h;
}

/** A request the parser refuses gets a proper answer (431 for oversized headers, else 400), then the connection closes. */
export function rejectMalformed(err: NodeJS.ErrnoException, socket: import("node:stream").Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const [status, text] = err.code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large"] : [400, "Bad Request"];
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
}
