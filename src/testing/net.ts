// Shared socket helpers for tests that run real servers.
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";

/** Listens on an ephemeral loopback port and returns it. */
export async function listen(s: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): Promise<number> {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return (s.address() as AddressInfo).port;
}

/** The whole of a stream (a request or response body) as text. */
export function readText(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve(text)).on("error", reject);
  });
}
