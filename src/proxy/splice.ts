import type { Duplex } from "node:stream";

/**
 * Pipes two streams both ways. When one side closes, the other is ended
 * gracefully (its buffered bytes still flow), and destroyed if it lingers;
 * an error on either side destroys both at once.
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
  a.on("error", fail).on("close", closed(b));
  b.on("error", fail).on("close", closed(a));
  a.pipe(b).pipe(a);
  a.resume();
}
