import type { Duplex } from "node:stream";

/**
 * Reads from `stream` until `decide` has an answer, then puts the bytes back
 * so the next consumer sees the stream from its first byte.
 */
export function peek<T>(stream: Duplex, decide: (buf: Buffer, ended: boolean) => T | undefined, quiet?: { afterMs: number; value: T | ((buf: Buffer) => T) }): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    // A server-first protocol (Postgres, MySQL, SMTP) sends nothing until the server speaks: stop waiting.
    // What arrived by then may say what the silence means (`value` as a function of it).
    const timer = quiet ? setTimeout(() => finish(typeof quiet.value === "function" ? (quiet.value as (b: Buffer) => T)(buf) : quiet.value), quiet.afterMs) : undefined;
    const finish = (v: T) => {
      clearTimeout(timer);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", reject);
      stream.pause();
      if (buf.length) stream.unshift(buf);
      resolve(v);
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const v = decide(buf, false);
      if (v !== undefined) finish(v);
    };
    const onEnd = () => {
      const v = decide(buf, true);
      if (v !== undefined) finish(v);
      else reject(new Error("stream ended before it could be classified"));
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", reject);
    // An earlier peek leaves the stream explicitly paused; a data listener alone would not resume it.
    stream.resume();
  });
}

/** How long a proxy waits for a client's first bytes before treating the stream as opaque TCP. */
export const SNIFF_TIMEOUT_MS = 250;

const HTTP_METHOD = /^(GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH) /;
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type HttpKind = "h1" | "h2" | false;

/** HTTP/1.x request line, or the HTTP/2 connection preface (h2c prior knowledge), judged from the first bytes. */
export function httpKind(buf: Buffer, ended: boolean): HttpKind | undefined {
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return n === H2_PREFACE.length ? "h2" : ended ? false : undefined;
  const head = buf.subarray(0, 8).toString("latin1");
  if (HTTP_METHOD.test(head)) return "h1";
  if (buf.length >= 8 || ended) return false;
  return /^[A-Z]*$/.test(head) ? undefined : false;
}
