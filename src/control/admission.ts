// Who may hold a connection to the proxies' endpoint before proving anything. A proxy with a certificate of this
// mesh shows it in the handshake and from then on counts only against the endpoint's overall cap. Until then — and
// for good, for a proxy still bootstrapping — its connection is unauthenticated: those are capped per source
// address and in all, and live only long enough to ask for a certificate. At a cap the *oldest* unauthenticated
// connection gives way to the new one rather than the new one being refused: one client opening connections by
// the thousand (from one address or many) cannot keep a proxy out, since a proxy's handshake completes long before
// a flood has opened enough newer connections to push it out, and what the flood holds ends by itself.
import type { Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { reset } from "../net/connections.js";

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
 * Call after every other "connection" listener is added: it runs first. Returns what resets every connection
 * still open (stopping: a peer that went without a word would hold the server's close() for its idle timeout).
 *
 * Connections are reset at the TCP socket: once TLS and an HTTP/2 session sit on it, neither's destroy() closes the
 * descriptor while the peer sends nothing (checked on Node 20); a reset of the socket under them ends both.
 */
export function admitProxyConnections(server: Server, limits: AdmissionLimits): { resetAll(): void; authenticated(peer: { remoteAddress?: string; remotePort?: number }): void } {
  const pool = new UnauthenticatedPool<Socket>(limits.unauthenticated, limits.unauthenticatedPerSource);
  // A TCP connection and the TLS socket over it share their remote address and port: that pair names it.
  const open = new Map<string, { socket: Socket; place: object; timer: NodeJS.Timeout }>();
  const handlers = server.listeners("connection") as ((socket: unknown) => void)[];
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    const { place, evicted } = pool.admit(socket.remoteAddress ?? "", socket);
    for (const old of evicted) reset(old);
    const timer = setTimeout(() => reset(socket), limits.unauthenticatedMs);
    timer.unref();
    open.set(key, { socket, place, timer });
    socket.once("close", () => {
      clearTimeout(timer);
      pool.leave(place);
      open.delete(key);
    });
    for (const h of handlers) h.call(server, socket);
  });
  const authenticated = (peer: { remoteAddress?: string; remotePort?: number }) => {
    const c = open.get(`${peer.remoteAddress}|${peer.remotePort}`);
    if (!c) return;
    clearTimeout(c.timer);
    pool.leave(c.place);
  };
  server.on("secureConnection", (tls: TLSSocket) => {
    // Without a certificate of this mesh a connection stays unauthenticated, and its clock keeps running.
    if (tls.authorized) authenticated(tls);
  });
  // A node proves itself by its join credential inside the connection, not in the handshake: the endpoint says so.
  return { resetAll: () => open.forEach((c) => reset(c.socket)), authenticated };
}
