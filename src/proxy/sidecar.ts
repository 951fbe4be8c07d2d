// One sidecar: the outbound proxy at ADDRESS:15001, an inbound listener per
// workload port on ADDRESS, the workload's certificate, and the last good
// configuration. Without a configuration it fails closed.
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import type { Env } from "../policy/context.js";
import { liveWorld } from "../policy/world.js";
import type { Side } from "../policy/telemetry.js";
import type { ConfigDelta, ProxyConfig } from "../wire/protocol.js";
import type { AccessLogEntry, ProxyContext } from "./context.js";
import type { Credentials } from "./credentials.js";
import { gatewayServer } from "./gateway-listener.js";
import { capturedInboundServer, inboundServer } from "./inbound-listener.js";
import { capturedOutboundServer, outboundServer } from "./outbound-listener.js";
import { Balancer } from "./balancer.js";
import { BlockedEgressCounter } from "./blocked-egress.js";
import { ProxyMetrics } from "./metrics.js";
import { DenialCounter } from "./denials.js";
import { LiveAnswers } from "./answers.js";
import { Pools, type PoolsOptions } from "./pool.js";
import { DEFAULT_LIMITS, type ListenerLimits } from "./limits.js";
import { capConnections } from "../net/connections.js";
import { stateFrom, stateFromDelta, type ProxyState } from "./state.js";
import { OUTBOUND_PORT, STATS_PORT, UNCAPTURED_INBOUND_PORTS } from "./ports.js";


export interface SidecarOptions {
  /** Workload instance, "ns/name". */
  id: string;
  /** The workload's own loopback address. */
  address: string;
  /** Workload ports the sidecar owns. */
  ports: number[];
  /** Where the application listens, per workload port. */
  apps: Record<number, { host: string; port: number }>;
  /** Where access-log lines go; none: never written. Whether a request is logged is Telemetry's and meshConfig's to say. */
  log?: (e: AccessLogEntry) => void;
  /** Log every request whatever the configuration says (the scenario runner's diagnostics). */
  logAll?: boolean;
  outboundPort?: number;
  /** Port of the Prometheus stats endpoint (default 15090; a taken one falls back to a free port). */
  statsPort?: number;
  /** Run as a gateway (gateway injection): Gateway servers on the workload's ports, no outbound proxy. */
  gateway?: boolean;
  /**
   * Run in a pod whose traffic is captured (node/capture.ts): the outbound port takes the application's redirected
   * connections, the inbound port everything sent to the pod, and the application is reached at the pod's address
   * on its own ports, from `appSource`. Every port is exact: a capture to a port the proxy does not hold would lose traffic.
   */
  capture?: { inboundPort: number; appSource: string };
  /** Upstream pool limits (tests make them small). */
  pools?: Pick<PoolsOptions, "idleMs" | "max">;
  /** Header timeout and connections per listener (default DEFAULT_LIMITS; tests make them small). */
  limits?: Partial<ListenerLimits>;
  /** How long a key set fetched from a jwksUri is used before it is fetched again (setting jwksRefresh). */
  jwksRefreshMs?: number;
}

/** `resync`: a delta that does not apply to what this proxy holds; it asks for the whole configuration. */
export type AckResult = { ack: true; version: number } | { ack: false; version: number; error: string; resync?: boolean };


export class Sidecar implements ProxyContext {
  private current: ProxyState | undefined;
  private creds: Credentials | undefined;
  private readonly servers: (Server | NetServer)[] = [];
  /** Accepted connections: a listener that hands sockets on (mTLS, sniffing) cannot close them itself, and an idle keep-alive one would hold stop() open. */
  private readonly accepted = new Set<Socket>();
  readonly balancer = new Balancer();
  readonly pools: Pools;
  readonly answers: LiveAnswers;
  readonly limits: ListenerLimits;
  readonly blockedEgress = new BlockedEgressCounter();
  readonly denials = new DenialCounter();
  readonly metrics = new ProxyMetrics();
  /** Ports this proxy could not have, and where it listens instead (said at start, not moved silently). */
  readonly moved: string[] = [];
  /** Actual listen address of each workload port (it may differ when the port is privileged). */
  readonly listeners: Record<string, string> = {};
  outboundAddress = "";
  /** Where the proxy serves GET /stats/prometheus. */
  statsAddress = "";

  constructor(private readonly opts: SidecarOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.pools = new Pools({ localAddress: opts.address, appSource: opts.capture?.appSource, ...opts.pools });
    this.answers = new LiveAnswers(this, opts.jwksRefreshMs);
  }

  get id(): string {
    return this.opts.id;
  }
  get address(): string {
    return this.opts.address;
  }
  state(): ProxyState | undefined {
    return this.current;
  }
  credentials(): Credentials | undefined {
    return this.creds;
  }
  get appSource(): string | undefined {
    return this.opts.capture?.appSource;
  }
  appTarget(port: number) {
    return this.opts.apps[port] ?? (this.opts.capture ? { host: this.opts.address, port } : undefined);
  }
  logs(side: Side): boolean {
    return this.opts.log !== undefined && (this.opts.logAll === true || this.current?.telemetry[side].accessLog === true);
  }
  log(e: AccessLogEntry): void {
    this.opts.log?.(e);
  }

  /** One per configuration: every request decided on it shares it (a live proxy decides hops). */
  env(state: ProxyState): Env {
    if (this.envOf?.state !== state) {
      this.envOf = {
        state,
        env: { snapshot: state.snapshot, world: liveWorld, scope: "hop", choose: chooseWeighted, chance: (percentage) => Math.random() * 100 < percentage, pickEndpoint: this.pickEndpoint },
      };
    }
    return this.envOf.env;
  }

  private envOf: { state: ProxyState; env: Env } | undefined;
  private readonly pickEndpoint: Env["pickEndpoint"] = (endpoints, key, lb) => this.balancer.pick(endpoints, key, lb);

  /** Applies a pushed configuration, or rejects it and keeps the last good one. */
  applyConfig(config: ProxyConfig): AckResult {
    return this.take(config.version, stateFrom(config));
  }

  /** Applies what changed since the configuration this proxy holds; one against another version is refused for a resync. */
  applyDelta(delta: ConfigDelta): AckResult {
    const held = this.current;
    if (!held || held.version !== delta.base || held.config.workload !== delta.workload) {
      return { ack: false, version: delta.version, error: `a delta from version ${delta.base} of ${delta.workload}, but this proxy holds ${held ? `version ${held.version}` : "nothing"}`, resync: true };
    }
    return this.take(delta.version, stateFromDelta(held, delta));
  }

  private take(version: number, s: ProxyState | { error: string }): AckResult {
    if ("error" in s) return { ack: false, version, error: s.error };
    this.current = s;
    this.metrics.keep(s.telemetry.CLIENT.metrics, s.telemetry.SERVER.metrics);
    return { ack: true, version };
  }

  setCredentials(c: Credentials): void {
    this.creds = c;
  }

  async start(): Promise<void> {
    if (this.opts.capture) return this.startCaptured(this.opts.capture);
    if (!this.opts.gateway) {
      const outbound = outboundServer(this);
      this.outboundAddress = await listen(outbound, this.opts.address, this.opts.outboundPort ?? OUTBOUND_PORT);
      this.serve(outbound);
    }
    for (const port of this.opts.ports) {
      const s = this.opts.gateway ? gatewayServer(this, port) : inboundServer(this, port);
      this.listeners[String(port)] = await listen(s, this.opts.address, port, (why, at) => this.moved.push(`workload port ${port} ${why}: listening on ${at} instead (the control plane publishes it)`));
      this.serve(s);
    }
    // Last, so a workload port that happens to be 15090 keeps its number.
    const stats = this.statsServer();
    this.statsAddress = await listen(stats, this.opts.address, this.opts.statsPort ?? STATS_PORT);
    this.serve(stats);
  }

  /** In a pod: one outbound and one inbound listener take every captured connection; workload ports are the pod's own. */
  private async startCaptured(capture: { inboundPort: number }): Promise<void> {
    const outboundPort = this.opts.outboundPort ?? OUTBOUND_PORT;
    const statsPort = this.opts.statsPort ?? STATS_PORT;
    const outbound = capturedOutboundServer(this);
    // Loopback only: a REDIRECT in the pod's OUTPUT chain sends here; nothing outside the pod can reach it.
    this.outboundAddress = await listenExactly(outbound, "127.0.0.1", outboundPort);
    this.serve(outbound);
    const inbound = capturedInboundServer(this, new Set([outboundPort, capture.inboundPort, statsPort, ...UNCAPTURED_INBOUND_PORTS]));
    await listenExactly(inbound, "0.0.0.0", capture.inboundPort);
    this.serve(inbound);
    for (const port of this.opts.ports) this.listeners[String(port)] = `${this.opts.address}:${port}`;
    const stats = this.statsServer();
    this.statsAddress = await listenExactly(stats, this.opts.address, statsPort);
    this.serve(stats);
  }

  private statsServer(): Server {
    return createHttpServer((req, res) => {
      if (req.method === "GET" && req.url === "/stats/prometheus") res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(this.metrics.render());
      else res.writeHead(404).end();
    });
  }

  private serve(server: Server | NetServer): void {
    this.servers.push(server);
    server.on("connection", (socket: Socket) => {
      this.accepted.add(socket);
      socket.once("close", () => this.accepted.delete(socket));
    });
    capConnections(server, this.limits.maxConnections);
  }

  async stop(): Promise<void> {
    this.pools.destroy();
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const socket of this.accepted) socket.destroy();
    await closed;
  }
}

/** Listens on exactly this port, or fails saying which. */
async function listenExactly(server: Server | NetServer, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`)));
    server.listen(port, host, () => resolve());
  });
  return `${host}:${port}`;
}

/** Listens on the port, or on a free one when the port is privileged or taken (the control plane publishes the real one; `onMoved` hears why). */
async function listen(server: Server | NetServer, host: string, port: number, onMoved?: (why: string, at: string) => void): Promise<string> {
  const attempt = (p: number) => new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(p, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  try {
    await attempt(port);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EADDRINUSE") throw e;
    await attempt(0);
    onMoved?.(code === "EACCES" ? `is privileged (${host}:${port} needs root)` : `is taken on ${host}`, `${host}:${(server.address() as AddressInfo).port}`);
  }
  return `${host}:${(server.address() as AddressInfo).port}`;
}

/** A weighted random choice (a route's destinations). */
function chooseWeighted(weights: number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let r = Math.random() * total;
  return Math.max(0, weights.findIndex((w) => (r -= w) < 0));
}
