// Ending and refusing connections, the same way for proxies and the control
// plane: a reset rather than a close where the peer must see a refusal, and a
// cap on how many a server holds open.
import type { Server, Socket } from "node:net";

/** Resets (RST) rather than closes, so the client sees what Istio's BlackHole gives it. */
export function reset(socket: { resetAndDestroy?: () => unknown; destroy: () => unknown }): void {
  try {
    if (typeof socket.resetAndDestroy === "function") return void socket.resetAndDestroy();
  } catch {
    // A TLS socket over a stream has no TCP handle of its own to reset: close it instead.
  }
  socket.destroy();
}

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
