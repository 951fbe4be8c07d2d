// The control plane: config store, CA, bootstrap credentials, and one
// long-lived HTTP/2 stream per proxy carrying versioned, debounced, scoped
// configuration and the proxy's ACK/NACK. An admin API on loopback serves
// the CLI (apply, get, proxy-status, proxy-config). This file starts and
// stops it and wires its roles: the proxies' streams (proxy-streams.ts),
// pushes (pusher.ts), the CA's endpoint (certificates.ts), the admin API
// (admin-api.ts), over the state they share (shared.ts).
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { Codes, ZmError } from "../api/errors.js";
import { capConnections } from "../net/connections.js";
import { SERVER_TLS } from "../net/tls-server.js";
import { Registry } from "../registry/registry.js";
import { CERTIFICATE_PATH, CONTROL_SPIFFE_SUFFIX, STREAM_PATH, WORKLOAD_HEADER } from "../wire/protocol.js";
import { AdminApi } from "./admin-api.js";
import { AdminChallenges } from "./admin-credential.js";
import { admitProxyConnections } from "./admission.js";
import { Certificates } from "./certificates.js";
import { describeEgressChange, egressChanges } from "./egress-diff.js";
import { EndpointBook } from "./endpoints.js";
import { LIMITS } from "./limits.js";
import { Lineage } from "./lineage.js";
import { NodeEndpoint } from "./node-endpoint.js";
import { TargetFile, targetGroups } from "./prometheus-sd.js";
import { ProxyStreams } from "./proxy-streams.js";
import type { ProxyRecord } from "./push.js";
import { Pusher } from "./pusher.js";
import type { ControlPlaneOptions, ControlState, Session } from "./shared.js";

export type { ControlPlaneOptions, PodRuntime } from "./shared.js";

export class ControlPlane implements ControlState {
  private secure?: Http2SecureServer;
  private admin?: HttpServer;
  readonly proxies = new Map<string, ProxyRecord>();
  readonly sessions = new Map<string, Session>();
  readonly endpoints: EndpointBook;
  /** Challenges for signed admin requests (the credential itself never travels). */
  private readonly challenges: AdminChallenges;
  readonly lineage: Lineage;
  private graceTimer?: NodeJS.Timeout;
  private stopping = false;
  private admission?: ReturnType<typeof admitProxyConnections>;
  readonly podAddresses = new Map<string, string>();
  private readonly targetFile?: TargetFile;
  private readonly pusher: Pusher;
  private readonly streams: ProxyStreams;
  private readonly certificates: Certificates;
  private readonly adminApi: AdminApi;
  private unsubscribe?: () => void;
  address = "";
  adminAddress = "";

  /** The nodes' side of the endpoint, when this control plane takes nodes. */
  readonly nodes?: NodeEndpoint;

  constructor(readonly opts: ControlPlaneOptions) {
    if (opts.prometheusTargetsFile) this.targetFile = new TargetFile(opts.prometheusTargetsFile);
    this.nodes = opts.join ? new NodeEndpoint(opts.join, {
      snapshot: () => this.opts.store.snapshot(),
      assignPodAddress: (w, ip) => this.assignPodAddress(w, ip),
      registerEndpoints: (w, l) => this.registerEndpoints(w, l),
      issueBootstrap: (w, by) => this.issueBootstrap(w, by),
      // A sidecar whose own stream is still open speaks for itself: only the gone ones' endpoints go.
      withdraw: (w) => this.sessions.has(w) || this.endpoints.leave(w),
      authenticated: (peer) => this.admission?.authenticated(peer),
      changed: () => this.pusher.schedule(0),
      audit: (event, fields) => this.audit(event, fields),
    }, opts.reservedPodCidrs, opts.nodesFile, opts.localPods) : undefined;
    this.lineage = new Lineage(opts.lineageFile, (error) => this.audit("lineage-read-error", { error }));
    this.challenges = new AdminChallenges(opts.adminToken);
    this.endpoints = EndpointBook.open(opts.endpointsFile, opts.endpointGraceMs, Date.now(), (error) =>
      this.opts.audit?.({ time: new Date().toISOString(), event: "endpoints-save-error", code: Codes.IO, error }));
    this.pusher = new Pusher(this);
    this.streams = new ProxyStreams(this, this.pusher, { targetsChanged: () => this.targetsChanged(), expireLater: () => this.expireEndpointsLater(), stopping: () => this.stopping });
    this.certificates = new Certificates(this);
    this.adminApi = new AdminApi(this, this.challenges, this.pusher, this.streams, this);
  }

  audit(event: string, fields: Record<string, unknown>): void {
    this.opts.audit?.({ time: new Date().toISOString(), event, ...fields });
  }

  /** Forgets remembered proxies when their grace ends, and pushes the change. */
  private expireEndpointsLater(): void {
    clearTimeout(this.graceTimer);
    const next = this.endpoints.nextExpiry();
    if (next === undefined) return;
    this.graceTimer = setTimeout(() => {
      const gone = this.endpoints.expire(Date.now());
      for (const id of gone) if (!this.proxies.get(id)?.connected) this.proxies.delete(id);
      if (gone.length) {
        this.opts.audit?.({ time: new Date().toISOString(), event: "endpoints-forgotten", proxies: gone, why: "did not reconnect within the grace" });
        this.pusher.schedule(0);
      }
      this.expireEndpointsLater();
    }, Math.max(0, next - Date.now()));
    this.graceTimer.unref();
  }

  async start(): Promise<void> {
    // Prometheus finds a file from the start, empty until proxies connect.
    this.targetsChanged();
    const host = this.opts.host ?? "127.0.0.1";
    const serving = await this.certificates.serving();
    // A proxy needs two streams (its certificate, its config stream); a handshake gets as long as a proxy's listener gives one.
    this.secure = createSecureServer({ ...SERVER_TLS, ...serving.tls, requestCert: true, rejectUnauthorized: false, handshakeTimeout: LIMITS.headersMs, settings: { maxConcurrentStreams: 16, maxHeaderListSize: 16 * 1024 } });
    this.certificates.rotateAt(serving.notAfter, (tls) => this.secure?.setSecureContext(tls));
    this.secure.on("stream", (stream, headers) => void this.onStream(stream, headers).catch((e) => this.fail(stream, headers, e)));
    this.secure.on("sessionError", () => {});
    // A peer that opens connections and never finishes a handshake or a request is dropped.
    this.secure.setTimeout(this.opts.idleMs ?? LIMITS.idleMs);
    capConnections(this.secure, LIMITS.proxyConnections);
    this.admission = admitProxyConnections(this.secure, { ...LIMITS, ...this.opts.admission });
    await listenOn(this.secure, this.opts.port ?? 15012, host, "the proxies' endpoint");
    // Listening on every address (pods reach it on their bridge's), local proxies still dial loopback.
    this.address = `${host === "0.0.0.0" ? "127.0.0.1" : host}:${(this.secure.address() as AddressInfo).port}`;
    this.admin = createHttpServer({ headersTimeout: LIMITS.headersMs, requestTimeout: LIMITS.adminRequestMs, maxHeaderSize: 16 * 1024 }, (req, res) => void this.adminApi.handle(req, res).catch((e) => this.adminApi.failed(req, res, e)));
    capConnections(this.admin, LIMITS.adminConnections);
    // The admin API is the local administrator's only: never on an address other machines or pods reach.
    const adminHost = /^127\./.test(host) ? host : "127.0.0.1";
    await listenOn(this.admin, this.opts.adminPort ?? 15014, adminHost, "the admin API");
    this.adminAddress = `${adminHost}:${(this.admin.address() as AddressInfo).port}`;
    const awaited = this.endpoints.awaited();
    if (awaited.length) this.opts.audit?.({ time: new Date().toISOString(), event: "endpoints-remembered", proxies: awaited, graceMs: this.opts.endpointGraceMs });
    this.expireEndpointsLater();
    let last = this.opts.store.snapshot();
    this.unsubscribe = this.opts.store.subscribe((e) => {
      this.opts.audit?.({ time: new Date().toISOString(), event: "config-change", version: e.version, cause: e.cause, created: e.created, updated: e.updated, deleted: e.deleted, meshChanged: e.meshChanged });
      const now = this.opts.store.snapshot();
      const changes = this.opts.notifier ? egressChanges(last, now) : [];
      last = now;
      if (changes.length) this.opts.notifier!.notify(`*Egress changed* (config version ${e.version}, ${e.cause}):\n${changes.map((c) => `• ${describeEgressChange(c)}`).join("\n")}`);
      this.pusher.schedule();
    });
  }

  async stop(): Promise<void> {
    // Streams closed by stopping are not proxies leaving: the book keeps them for the next start.
    this.stopping = true;
    this.certificates.stop();
    this.pusher.stop();
    clearTimeout(this.graceTimer);
    this.unsubscribe?.();
    this.streams.closeAll();
    this.nodes?.close();
    // A peer that went without a word (a pod's namespace removed under it) would hold close() for the idle timeout.
    this.admission?.resetAll();
    await Promise.all([
      new Promise<void>((r) => (this.secure ? this.secure.close(() => r()) : r())),
      new Promise<void>((r) => {
        if (!this.admin) return r();
        this.admin.closeAllConnections();
        this.admin.close(() => r());
      }),
    ]);
  }

  /**
   * The node that runs `workload` in a pod gave it `ip` (as a pod's status.podIP): its proxy announces listeners
   * there. Undefined takes it back (the pod is gone).
   */
  assignPodAddress(workload: string, ip: string | undefined): void {
    if (ip === undefined) this.podAddresses.delete(workload);
    else this.podAddresses.set(workload, ip);
  }

  /** Listeners of a workload instance without a proxy (its application's own), or null when it is gone. */
  registerEndpoints(workload: string, listeners: Record<string, string> | null): void {
    this.endpoints.register(workload, listeners);
    this.pusher.schedule(0);
  }

  /** Issues a credential for one workload instance (good for one certificate, for ZEROMESH_BOOTSTRAP_TTL); audited. */
  issueBootstrap(workload: string, by = "control plane"): string {
    const w = Registry.of(this.opts.store.snapshot()).workload(workload);
    if (!w) throw new ZmError(Codes.NOT_FOUND, `no workload ${workload} in the configuration`);
    // Proxies and nodes trust the control plane by this identity (checkControlIdentity): no workload may hold it.
    if (w.spiffe.endsWith(CONTROL_SPIFFE_SUFFIX)) throw new ZmError(Codes.BOOTSTRAP, `${workload} runs as the control plane's own identity (${w.spiffe}); choose another service account`);
    const expires = new Date(Date.now() + this.opts.bootstrapTtlMs);
    this.audit("bootstrap-issued", { workload, spiffe: w.spiffe, expires: expires.toISOString(), by });
    return this.opts.bootstrap.issue({ workload, spiffe: w.spiffe }, expires);
  }

  /** True when no push is pending and every connected proxy acknowledged (or rejected) what it was sent. */
  synced(expected: string[] = []): boolean {
    return this.pusher.synced(expected);
  }

  /** Waits until the configuration of snapshot `v` is enforced by every proxy whose configuration it changed. */
  waitEnforced(v: number, timeoutMs: number): ReturnType<Pusher["waitEnforced"]> {
    return this.pusher.waitEnforced(v, timeoutMs);
  }

  // ---------- proxies' endpoint ----------

  private async onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    stream.on("error", () => {});
    const path = headers[":path"];
    if (typeof path === "string" && path.startsWith("/v1/node/")) {
      if (!this.nodes) throw new ZmError(Codes.NODE, "this control plane takes no nodes (zeromesh up --listen ADDR)");
      return this.nodes.onStream(stream, headers, path);
    }
    const caller = this.certificates.authenticate(stream, headers);
    if (path === CERTIFICATE_PATH) return this.certificates.issue(stream, caller);
    if (path !== STREAM_PATH) throw new ZmError(Codes.NOT_FOUND, `no such endpoint ${path}`);
    if (caller.claim) throw new ZmError(Codes.BOOTSTRAP, "a config stream is opened with the workload certificate, not a bootstrap credential");
    this.streams.open(stream, caller.workload);
  }

  /** The Prometheus targets file follows the connected proxies; a failed write is audited, never fatal. */
  private targetsChanged(): void {
    try {
      this.targetFile?.update(targetGroups(this.proxies.values()));
    } catch (e) {
      this.audit("prometheus-targets-unwritable", { file: this.opts.prometheusTargetsFile, why: (e as Error).message });
    }
  }

  private fail(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, e: unknown): void {
    const code = e instanceof ZmError ? e.code : "ZM_INTERNAL";
    const status = code === Codes.BOOTSTRAP || code === Codes.CA_IDENTITY || code === Codes.NODE ? 403 : code === Codes.TOO_LARGE ? 413 : e instanceof ZmError ? 400 : 500;
    if (status === 403 || status === 413) this.audit("proxy-refused", { path: String(headers[":path"]).slice(0, 100), workload: String(headers[WORKLOAD_HEADER] ?? "").slice(0, 100), from: stream.session?.socket?.remoteAddress, status, why: (e as Error).message });
    if (stream.destroyed) return;
    if (!stream.headersSent) stream.respond({ ":status": status, "content-type": "application/json" });
    stream.end(JSON.stringify({ code, error: (e as Error).message }));
  }
}

/** Listens, or fails with what took the port (a second `zeromesh up`, another program) instead of an unhandled 'error' event. */
function listenOn(server: { listen(port: number, host: string, cb: () => void): unknown; once(e: "error", cb: (e: Error) => void): unknown; off(e: "error", cb: (e: Error) => void): unknown }, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      e.message = `${what} cannot listen on ${host}:${port}: ${e.code === "EADDRINUSE" ? "the port is taken (another zeromesh up?)" : e.message}`;
      reject(e);
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
