// Shared socket helpers for tests that run real servers.
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
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

/**
 * A TCP relay to `target` that a test can cut: while shut, it drops every connection (open ones too).
 * Used to keep one proxy away from its control plane while others reach it.
 */
export async function tcpGate(target: { host: string; port: number }): Promise<{ address: string; shut(): void; open(): void; close(): Promise<void> }> {
  let shut = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (shut) return void client.destroy();
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await listen(server);
  return {
    address: `127.0.0.1:${port}`,
    shut: () => {
      shut = true;
      for (const s of sockets) s.destroy();
    },
    open: () => void (shut = false),
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

export interface RawClient {
  socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** How the connection ended: "reset" (ECONNRESET) or "closed". */
  ended: Promise<"reset" | "closed">;
}

/** A raw TCP client writing `bytes` as they are, where a client library would tidy a request up (or finish it). */
export function rawClient(host: string, port: number, bytes: string | Buffer): RawClient {
  const socket = connect(port, host, () => socket.write(bytes));
  let got = "";
  let reset = false;
  socket.on("data", (d) => (got += d));
  socket.on("error", (e: NodeJS.ErrnoException) => (reset = e.code === "ECONNRESET"));
  const ended = new Promise<"reset" | "closed">((r) => socket.once("close", () => r(reset ? "reset" : "closed")));
  return { socket, received: () => got, ended };
}

/** `p`'s value, or `fallback` when it has not settled within `ms`. */
export function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(fallback), ms);
    void p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

/** Raw bytes to a listener, and everything that comes back until the peer closes (or `limitMs` passes). */
export async function rawExchange(at: { host: string; port: number }, bytes: string | Buffer, limitMs = 5000): Promise<string> {
  const c = rawClient(at.host, at.port, bytes);
  await within(c.ended, limitMs, "open");
  c.socket.destroy();
  return c.received();
}
