import type { Duplex } from "node:stream";

/** Pipes two streams both ways; when either side closes or fails, the other is closed too. */
export function splice(a: Duplex, b: Duplex, onClose?: () => void): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    a.destroy();
    b.destroy();
    onClose?.();
  };
  a.on("error", close).on("close", close);
  b.on("error", close).on("close", close);
  a.pipe(b).pipe(a);
  a.resume();
}
