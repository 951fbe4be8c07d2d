/** Calls `onMessage` with each JSON line of a stream (the config stream's framing, both directions). */
export function onJsonLines<T>(stream: NodeJS.ReadableStream, onMessage: (m: T) => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) onMessage(JSON.parse(line) as T);
    }
  });
}
