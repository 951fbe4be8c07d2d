// Connection pools for HTTP: one undici Pool per next hop (and per
// certificate generation, so rotation starts fresh connections while old ones
// drain), one per local application, one per host the proxy originates TLS
// to; and HTTP/2 sessions. Idle ones are closed (idle-cache.ts). Each pool opens its connections with our own
// connector: mesh mTLS must offer the mesh ALPN and check the peer's SPIFFE
// identity, which a stock connector would not do.
import type { ClientHttp2Session } from "node:http2";
import { BoundedMap } from "../bounded-map.js";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { buildConnector } from "undici";
import type { Credentials } from "./credentials.js";
import { H2Sessions } from "./h2.js";
import { IdleCache } from "./idle-cache.js";
import { Pool } from "./undici-pool.js";
import { bindFrom, plaintextSource } from "./source-address.js";
import { hopOnly, meshClientTls, type HopTarget } from "./upstream.js";

/** Keep-alive connections per hop; undici also honours the server's `Keep-Alive: timeout` hint. */
const POOL = { connections: 256, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 };

/** A connector whose failures are marked as connect failures (for retry conditions). */
function connector(open: () => Socket | TLSSocket, secure: boolean): buildConnector.connector {
  return (_opts, cb) => {
    const s = open();
    s.setNoDelay(true);
    const onError = (e: Error) => cb(Object.assign(e, { zmConnect: true }), null);
    s.once("error", onError);
    s.once(secure ? "secureConnect" : "connect", () => {
      s.off("error", onError);
      cb(null, s);
    });
  };
}

/** How many pools (or HTTP/2 sessions) of one kind a proxy keeps; Envoy's clusters are bounded by configuration, ours by this. */
export const MAX_POOLS = 512;
/** An unused pool is closed after this long: its keep-alive connections would have closed by then too. */
export const POOL_IDLE_MS = POOL.keepAliveTimeout;

export interface PoolsOptions {
  /** The workload's own address: connections leave from it (see source-address.ts). */
  localAddress?: string;
  /** In a pod: plaintext to the workload's own address (its application) leaves from here instead (node/capture.ts). */
  appSource?: string;
  idleMs?: number;
  max?: number;
  now?: () => number;
}

/**
 * Pool keys, each made once: "host:port", and for mTLS "host:port|identities|generation". A key string built per
 * request costs more than the lookup it is for. Hosts come from requests under ALLOW_ANY: bounded. Identity lists
 * are a decision's, the same list object for a snapshot.
 */
class PoolKeys {
  // Bounded at each level: under ALLOW_ANY the application picks hosts and ports; rotation adds generations.
  private readonly byHost = new BoundedMap<string, BoundedMap<number, HostPortKeys>>(1024);
  /** Each root bundle TLS origination verifies against, by number: a bundle can be hundreds of KB, too long for a key. */
  private readonly bundles = new BoundedMap<string, number>(16);
  private nextBundle = 0;

  private of(host: string, port: number): HostPortKeys {
    let byPort = this.byHost.get(host);
    if (!byPort) this.byHost.set(host, (byPort = new BoundedMap(64)));
    let k = byPort.get(port);
    if (!k) byPort.set(port, (k = { plain: `${host}:${port}`, mtls: new WeakMap() }));
    return k;
  }

  plain(host: string, port: number): string {
    return this.of(host, port).plain;
  }

  mtls(host: string, port: number, identities: readonly string[], generation: number): string {
    const k = this.of(host, port);
    let byGen = k.mtls.get(identities);
    if (!byGen) k.mtls.set(identities, (byGen = new BoundedMap(4)));
    let key = byGen.get(generation);
    if (key === undefined) byGen.set(generation, (key = `${k.plain}|${identities.join(",")}|${generation}`));
    return key;
  }

  /**
   * "host:port|sni|n" for TLS origination, n the number of the root bundle (`ca`, "" for the system's). Looked up by
   * the bundle string itself, the same one for a configuration: its hash is computed once, where a key with the
   * bundle in it would be hashed whole for every request.
   */
  originate(host: string, port: number, sni: string, ca: string): string {
    const k = this.of(host, port);
    const bySni = (k.originate ??= new BoundedMap(16));
    let byCa = bySni.get(sni);
    if (!byCa) bySni.set(sni, (byCa = new BoundedMap(4)));
    let key = byCa.get(ca);
    if (key === undefined) byCa.set(ca, (key = `${k.plain}|${sni}|${this.bundleNumber(ca)}`));
    return key;
  }

  private bundleNumber(ca: string): number {
    let n = this.bundles.get(ca);
    if (n === undefined) this.bundles.set(ca, (n = this.nextBundle++));
    return n;
  }
}

interface HostPortKeys {
  plain: string;
  mtls: WeakMap<readonly string[], BoundedMap<number, string>>;
  originate?: BoundedMap<string, BoundedMap<string, string>>;
}

export class Pools {
  private readonly mtls: IdleCache<Pool>;
  private readonly plain: IdleCache<Pool>;
  private readonly originating: IdleCache<Pool>;
  private readonly h2: H2Sessions;
  private generation = new WeakMap<Credentials, number>();
  private nextGen = 0;
  private readonly keys = new PoolKeys();
  private readonly localAddress: string | undefined;
  private readonly appSource: string | undefined;
  /** Evicts idle pools while no request comes to do it. */
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: PoolsOptions = {}) {
    this.localAddress = opts.localAddress;
    this.appSource = opts.appSource;
    const idleMs = opts.idleMs ?? POOL_IDLE_MS;
    const limits = { idleMs, max: opts.max ?? MAX_POOLS, now: opts.now };
    // A pool with requests queued or running is busy; close() lets whatever is left finish.
    const pools = () => new IdleCache<Pool>({ ...limits, busy: (p) => p.stats.size > 0, close: (p) => void p.close().catch(() => {}) });
    this.mtls = pools();
    this.plain = pools();
    this.originating = pools();
    this.h2 = new H2Sessions(opts.localAddress, limits, opts.appSource);
    this.sweeper = setInterval(() => this.caches().forEach((c) => c.sweep()), idleMs).unref();
  }

  private caches() {
    return [this.mtls, this.plain, this.originating, this.h2.cache];
  }

  /** Pools and HTTP/2 sessions held. */
  get size(): number {
    return this.caches().reduce((n, c) => n + c.size, 0);
  }

  private gen(c: Credentials): number {
    let g = this.generation.get(c);
    if (g === undefined) this.generation.set(c, (g = this.nextGen++));
    return g;
  }

  /** The pool for one hop; mTLS connections verify the peer's SPIFFE identity. Undefined until there is a certificate. */
  poolFor(t: HopTarget, creds: Credentials | undefined): Pool | undefined {
    if (!t.mtls) return this.plainPool(t.host, t.port);
    if (!creds) return undefined;
    const key = this.keys.mtls(t.host, t.port, t.identities, this.gen(creds));
    return this.mtls.use(key) ?? this.mtls.add(key, this.mtlsPool(hopOnly(t), creds));
  }

  private mtlsPool(hop: HopTarget, creds: Credentials): Pool {
    return new Pool(`http://${hop.host}:${hop.port}`, { ...POOL, connect: connector(() => tlsConnect({ host: hop.host, port: hop.port, ...bindFrom(this.localAddress, hop.host), ...meshClientTls(hop, creds) }), true) });
  }

  /** Plain HTTP to an address: the local application, or a hop without mTLS. */
  plainPool(host: string, port: number): Pool {
    const key = this.keys.plain(host, port);
    return this.plain.use(key) ?? this.plain.add(key, new Pool(`http://${host}:${port}`, { ...POOL, connect: connector(() => netConnect({ port, host, ...bindFrom(plaintextSource(this.localAddress, this.appSource, host), host) }), false) }));
  }

  /** TLS originated by the proxy toward a host outside the mesh (DestinationRule tls SIMPLE), verified against `ca`. */
  originate(host: string, port: number, sni: string, ca: string | undefined): Pool {
    return this.originating.get(this.keys.originate(host, port, sni, ca ?? ""), () =>
      new Pool(`https://${host}:${port}`, { ...POOL, connect: connector(() => tlsConnect({ host, port, ...bindFrom(this.localAddress, host), servername: sni, ca: ca || undefined, ALPNProtocols: ["http/1.1"] }), true) }));
  }

  /** A multiplexed HTTP/2 session to a hop (mTLS as for pools) or, with `mtls: false`, h2c to a local application. */
  h2For(t: HopTarget, creds: Credentials | undefined): ClientHttp2Session | undefined {
    if (t.mtls && !creds) return undefined;
    return this.h2.get(t.mtls ? this.keys.mtls(t.host, t.port, t.identities, this.gen(creds!)) : `${this.keys.plain(t.host, t.port)}|h2c`, t, creds);
  }

  destroy(): void {
    clearInterval(this.sweeper);
    for (const c of [this.mtls, this.plain, this.originating]) for (const p of c.drain()) void p.destroy().catch(() => {});
    this.h2.destroy();
  }
}
