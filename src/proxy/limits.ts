// What one client may hold of a proxy's listener: time to send its headers,
// and a share of the connections. Without these, a few thousand slow clients
// (partial headers, never finished) exhaust a gateway.
import type { Server, Socket } from "node:net";
import { reset } from "./context.js";

export interface ListenerLimits {
  /** Time from a request's first byte to the end of its headers (Envoy's `request_headers_timeout`); a TLS handshake gets as long. */
  headersTimeoutMs: number;
  /** Open connections per listener; beyond it new ones are reset at once (Envoy's per-listener connection limit). */
  maxConnections: number;
}

/** A proxied TCP connection with no bytes either way for this long is closed (Envoy tcp_proxy's default idle_timeout, 1 h). */
export const TCP_IDLE_MS = 3_600_000;

export const DEFAULT_LIMITS: ListenerLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  // Far above what a workload's callers legitimately hold (pools keep at most 256 per peer), far below the
  // ~20,000 slow connections that exhausted a gateway; file descriptors (ulimit 1024–65536) are the real bound.
  maxConnections: 4096,
});

/**
 * Caps `server`'s open connections: beyond `max`, a new connection is reset
 * before any handler sees it, and the connections already open keep working.
 * Call it after every "connection" listener is added (it wraps them).
 */
export function capConnections(server: Server, max: number): void {
  const handlers = server.listeners("connection") as ((socket: unknown) => void)[];
  server.removeAllListeners("connection");
  let open = 0;
  server.on("connection", (socket: Socket) => {
    if (open >= max) return void reset(socket);
    open++;
    socket.once("close", () => open--);
    for (const h of handlers) h.call(server, socket);
  });
}
