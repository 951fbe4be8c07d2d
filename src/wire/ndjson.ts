// The config stream's framing, both directions: one JSON value per line.
// A line longer than the limit, or one that is not JSON, ends the stream's
// reading (the caller closes it): a peer cannot make the reader buffer
// without bound or throw inside a data handler.

export interface JsonLinesOptions {
  /** The longest line accepted, in bytes. */
  maxLine: number;
  /** Called once, for the first bad line; nothing is read after it. */
  onBad: (why: string) => void;
}

/** Calls `onMessage` with each JSON line of a stream. */
export function onJsonLines<T>(stream: NodeJS.ReadableStream, onMessage: (m: T) => void, opts: JsonLinesOptions): void {
  let buf = "";
  let bad = false;
  const fail = (why: string) => {
    bad = true;
    buf = "";
    stream.removeListener("data", onData);
    opts.onBad(why);
  };
  const onData = (chunk: string) => {
    if (bad) return;
    buf += chunk;
    let nl;
    while (!bad && (nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let m: T;
      try {
        m = JSON.parse(line) as T;
      } catch {
        return fail(`a line that is not JSON (${JSON.stringify(line.slice(0, 40))}…)`);
      }
      onMessage(m);
    }
    // A UTF-8 byte is at most 3 per UTF-16 unit: count bytes only when the line may be over (a large configuration
    // arrives in many chunks, and counting every time would cost the square of its size).
    if (!bad && buf.length * 3 > opts.maxLine && Buffer.byteLength(buf) > opts.maxLine) fail(`a line longer than ${opts.maxLine} bytes`);
  };
  stream.setEncoding("utf8");
  stream.on("data", onData);
}
