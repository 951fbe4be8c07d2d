// Who may hold a connection to the proxies' endpoint before proving anything. A proxy with a certificate of this
// mesh shows it in the handshake and from then on counts only against the endpoint's overall cap. Until then — and
// for good, for a proxy still bootstrapping — its connection is unauthenticated: those are capped per source
// address and in all, and live only long enough to ask for a certificate. At a cap the *oldest* unauthenticated
// connection gives way to the new one rather than the new one being refused: one client opening connections by
// the thousand (from one address or many) cannot keep a proxy out, since a proxy's handshake completes long before
// a flood has opened enough newer connections to push it out, and what the flood holds ends by itself.
import type { Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { reset } from "../proxy/context.js";

export interface AdmissionLimits {
  /** Unauthenticated connections at once, from everyone. */
  unauthenticated: number;
  /** Unauthenticated connections at once from one source address. */
  unauthenticatedPerSource: number;
  /** How long a connection without a mesh certificate may stay open (a certificate request takes well under a second). */
  unauthenticatedMs: number;
}

/** Unauthenticated connections in the order they came, in all and per source: pure bookkeeping. */
export class UnauthenticatedPool<T> {
  private readonly all = new Set<{ source: string; item: T }>();
  private readonly bySource = new Map<string, Set<{ source: string; item: T }>>();

  constructor(private readonly max: number, private readonly maxPerSource: number) {}

  /** Admits `item` from `source`; returns its place, and what had to give way for it (oldest first). */
  admit(source: string, item: T): { place: object; evicted: T[] } {
    const evicted: T[] = [];
    const mine = this.bySource.get(source);
    if (mine && mine.size >= this.maxPerSource) evicted.push(this.drop(mine.values().next().value!));
    if (this.all.size >= this.max) evicted.push(this.drop(this.all.values().next().value!));
    const place = { source, item };
    this.all.add(place);
    this.bySource.set(source, (mine ?? new Set()).add(place));
    return { place, evicted };
  }

  /** The connection authenticated or closed: it no longer counts. Idempotent. */
  leave(place: object): void {
    const p = place as { source: string; item: T };
    if (this.all.has(p)) this.drop(p);
  }

  private drop(p: { source: string; item: T }): T {
    this.all.delete(p);
    const mine = this.bySource.get(p.source);
    mine?.delete(p);
    if (mine && !mine.size) this.bySource.delete(p.source);
    return p.item;
  }

  get size(): number {
    return this.all.size;
  }

  of(source: string): number {
    return this.bySource.get(source)?.size ?? 0;
  }
}

/**
 * Applies `limits` to a TLS server (the proxies' endpoint, which asks for but does not require client certificates).
 * Call after every other "connection" listener is added: it runs first.
 */
export function admitProxyConnections(server: Server, limits: AdmissionLimits): UnauthenticatedPool<Connection> {
  const pool = new UnauthenticatedPool<Connection>(limits.unauthenticated, limits.unauthenticatedPerSource);
  // A TCP connection and the TLS socket over it share their remote address and port: that pair names it.
  const open = new Map<string, Connection>();
  const handlers = server.listeners("connection") as ((socket: unknown) => void)[];
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    const c = new Connection(socket, `${socket.remoteAddress}|${socket.remotePort}`);
    const { place, evicted } = pool.admit(socket.remoteAddress ?? "", c);
    for (const old of evicted) old.close();
    c.place = place;
    c.timer = setTimeout(() => c.close(), limits.unauthenticatedMs);
    c.timer.unref();
    open.set(c.key, c);
    socket.once("close", () => {
      clearTimeout(c.timer);
      pool.leave(place);
      open.delete(c.key);
    });
    for (const h of handlers) h.call(server, socket);
  });
  server.on("secureConnection", (tls: TLSSocket) => {
    const c = open.get(`${tls.remoteAddress}|${tls.remotePort}`);
    if (!c || !tls.authorized) return; // stays unauthenticated, and its clock keeps running
    clearTimeout(c.timer);
    pool.leave(c.place);
  });
  return pool;
}

/** One connection to the endpoint: TCP, then TLS over it. */
class Connection {
  place: object = {};
  timer?: NodeJS.Timeout;

  constructor(readonly tcp: Socket, readonly key: string) {}

  /**
   * Resets the TCP connection. Once TLS and an HTTP/2 session sit on it, neither's destroy() closes the descriptor
   * while the peer sends nothing (checked on Node 20); a reset of the TCP socket under them does, and ends both.
   */
  close(): void {
    reset(this.tcp);
  }
}
