// Envoy's stream_idle_timeout for an HTTP/1.1 listener: a request with no
// bytes either way for the limit is ended, so a body that stopped coming
// cannot hold its connection for ever. Checked by a sweep over the listener's
// connections, a quarter of the limit apart, rather than by Node's socket
// timeouts: those re-arm a timer on every read and write and make two timer
// objects per request (measured in an interleaved A/B: about a seventh of a
// sidecar's CPU per request).
import type { Server } from "node:http";
import type { Socket } from "node:net";

/** What the sweep knows of one connection: its bytes either way when they last moved. */
interface Progress {
  bytes: number;
  since: number;
}

/** Ends `server`'s connections whose request in flight moved no byte for `idleMs` (between requests, the keep-alive timeout decides). */
export function endStalledRequests(server: Server, idleMs: number, now: () => number = Date.now): void {
  const open = new Map<Socket, Progress>();
  server.on("connection", (s: Socket) => {
    // Only sockets count their bytes; a listener is handed nothing else.
    if (typeof s.bytesRead !== "number") return;
    open.set(s, { bytes: s.bytesRead + s.bytesWritten, since: now() });
    s.once("close", () => open.delete(s));
  });
  const sweep = setInterval(() => {
    const t = now();
    for (const [s, p] of open) {
      const bytes = s.bytesRead + s.bytesWritten;
      if (bytes !== p.bytes) {
        p.bytes = bytes;
        p.since = t;
      } else if (t - p.since >= idleMs && serving(s)) {
        s.destroy();
      }
    }
  }, Math.max(25, idleMs / 4)).unref();
  server.once("close", () => clearInterval(sweep));
}

/** Whether the connection has a response under way: Node's HTTP server keeps it on the socket until the response ends. */
function serving(s: Socket): boolean {
  return (s as Socket & { _httpMessage?: unknown })._httpMessage != null;
}
