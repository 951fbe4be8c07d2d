import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { TCP_IDLE_MS } from "./limits.js";

/**
 * Pipes two streams both ways. When one side closes, the other is ended
 * gracefully (its buffered bytes still flow), and destroyed if it lingers;
 * an error on either side destroys both at once, and so does TCP_IDLE_MS
 * without a byte either way.
 */
export function splice(a: Duplex, b: Duplex, onClose?: () => void, lingerMs = 5000): void {
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    onClose?.();
  };
  const fail = () => {
    a.destroy();
    b.destroy();
    finish();
  };
  const closed = (other: Duplex) => () => {
    if (!other.destroyed) {
      other.end();
      setTimeout(() => other.destroy(), lingerMs).unref();
    }
    finish();
  };
  // Reads and writes both count as activity on a socket (TLS sockets are sockets too).
  for (const s of [a, b]) if (s instanceof Socket) s.setTimeout(TCP_IDLE_MS, fail);
  a.on("error", fail).on("close", closed(b));
  b.on("error", fail).on("close", closed(a));
  a.pipe(b).pipe(a);
  a.resume();
}
