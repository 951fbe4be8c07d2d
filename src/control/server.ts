// The control plane: config store, CA, bootstrap credentials, and one
// long-lived HTTP/2 stream per proxy carrying versioned, debounced, scoped
// configuration and the proxy's ACK/NACK. An admin API on loopback serves
// the CLI (apply, get, proxy-status, proxy-config).
import { capConnections } from "../proxy/limits.js";
import { admitProxyConnections, type AdmissionLimits } from "./admission.js";
import { SERVER_TLS } from "../net/tls-server.js";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { X509Certificate, createHash } from "node:crypto";
import { createSecureServer, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Codes, ZmError, errorsOf, formatIssue, type Issue } from "../api/errors.js";
import { manifestOf } from "../api/load.js";
import { mergeMeshConfig } from "../api/mesh.js";
import { keyOf } from "../api/types.js";
import { BootstrapAuthority, type BootstrapClaim } from "../ca/bootstrap.js";
import type { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { CONTROL_SPIFFE_SUFFIX, spiffeOf } from "../proxy/credentials.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import type { ConfigStore, ResourceKey } from "../store/store.js";
import { AdminChallenges } from "./admin-credential.js";
import { AlertLog } from "./alerts.js";
import { describeEgressChange, egressChanges } from "./egress-diff.js";
import type { Notifier } from "./notifier.js";
import { Lineage } from "./lineage.js";
import { readBody, readJson, parseJsonObject, checkProxyMessage, isListenerTable, LIMITS, type ProxyMessage } from "./limits.js";
import { redactKeys } from "./redact.js";
import { EndpointBook } from "./endpoints.js";
import type { EndpointTable } from "./proxy-config.js";
import { ConfigLines, configLineStart, configOf } from "./config-lines.js";
import { onJsonLines } from "./ndjson.js";
import { syncStatus, type ProxyRecord } from "./push.js";
import { NodeEndpoint } from "./node-endpoint.js";
import type { PodInfo } from "../node/agent.js";
import type { PodRoute } from "../node/pod-network.js";
import type { JoinAuthority } from "../ca/join.js";
import { TargetFile, targetGroups } from "./prometheus-sd.js";
import { DenialLog } from "./denials.js";
import { workloadView } from "./workload-view.js";
import { checkQuery, type CheckQuery } from "../policy/check-query.js";

export const CONTROL_SERVER_NAME = "zeromesh-control";

export interface ControlPlaneOptions {
  store: ConfigStore;
  ca: CertificateAuthority;
  bootstrap: BootstrapAuthority;
  bootstrapTtlMs: number;
  /** The admin API's credential (admin-credential.ts): every admin call must carry it. */
  adminToken: string;
  /** Address of the proxies' endpoint (default 127.0.0.1; 0.0.0.0 when pods or other nodes reach it). The admin API stays on loopback. */
  host?: string;
  /** Port of the proxies' TLS endpoint (0: any free port). */
  port?: number;
  /** Port of the loopback admin API (0: any free port). */
  adminPort?: number;
  debounceMs?: number;
  /** Names outside the registry that proxies may resolve ("host:port" → "address:port"). */
  names?: Record<string, string>;
  /** PEM roots proxies trust when they originate TLS to hosts outside the mesh. */
  outsideRoots?: string;
  audit?: (line: Record<string, unknown>) => void;
  /** Where alerts go besides the audit trail: webhook receivers (blocked egress, changes to what workloads may reach). */
  notifier?: Notifier;
  /** Where the instances' certificate lineage is kept across restarts (none: after a restart every proxy must bootstrap again). */
  lineageFile?: string;
  /** Where endpoints are remembered across restarts (none: a restart forgets them). */
  endpointsFile?: string;
  /** How long a proxy's endpoints are still served after its stream drops (or the control plane restarts) while it reconnects (ZEROMESH_ENDPOINT_GRACE). */
  endpointGraceMs: number;
  /** This machine's node agent, when it runs pods (node/agent.ts): the admin API creates, lists and removes them. */
  pods?: PodRuntime;
  /** Limits on connections without a mesh certificate (LIMITS' by default; tests shorten the lifetime). */
  admission?: Partial<AdmissionLimits>;
  /** Other machines join as nodes with credentials from this authority (none: this control plane takes no nodes). */
  join?: JoinAuthority;
  /** How long a join credential lives (ZEROMESH_JOIN_TTL). */
  joinTtlMs?: number;
  /** This machine's own pods, where joined nodes reach them (its --listen address), so that they route there. */
  localPods?: () => { podCidr: string; address: string } | undefined;
  /** Where the joined nodes and their pod CIDRs are kept across restarts. */
  nodesFile?: string;
  /** Pod CIDRs never given to a joining node (this machine's own pods'). */
  reservedPodCidrs?: () => string[];
  /** How long a proxy's connection may carry nothing (LIMITS.idleMs; tests shorten it). */
  idleMs?: number;
  /** Where the proxies' stats endpoints are listed for Prometheus (file_sd), kept current as proxies come and go. */
  prometheusTargetsFile?: string;
}

/** What the admin API needs of a node agent. */
export interface PodRuntime {
  createPod(workload: string): Promise<PodInfo>;
  deletePod(workload: string): Promise<void>;
  list(): PodInfo[];
  /** Every push's endpoints (for the pods' cluster-IP rules); the configuration counts as in sync once this resolves. */
  applyServices?(endpoints: EndpointTable, routes: PodRoute[]): Promise<void>;
}

/** A proxy's reports (blocked egress, denials) closer together than this are ignored (proxies send each once a second). */
const REPORT_MIN_MS = 500;
type ReportType = "egress-blocked" | "denials";

interface Session {
  stream: ServerHttp2Stream;
  record: ProxyRecord;
  /** The proxy said it is stopping: its endpoints go when the stream closes. */
  leaving: boolean;
  /** A stream says hello once: every hello rewrites the endpoint book and pushes to every proxy. */
  helloSeen: boolean;
  /** When its last report of each kind was taken (proxies report once a second; more often is ignored). */
  lastReport: Record<ReportType, number>;
  /** A push found the stream still sending an earlier configuration: the latest goes when it drains. */
  owed: boolean;
}

/** Who is on the proxies' endpoint: a workload instance, proven by a bootstrap credential or its current certificate. */
interface Caller {
  workload: string;
  spiffe: string;
  /** Present when the caller proved itself with a bootstrap credential (good for one certificate). */
  claim?: BootstrapClaim;
  /** The serial of the mesh certificate it presented, when it did. */
  serial?: string;
}


export class ControlPlane {
  private secure?: Http2SecureServer;
  private servingRotation?: NodeJS.Timeout;
  private admin?: HttpServer;
  private readonly proxies = new Map<string, ProxyRecord>();
  private readonly sessions = new Map<string, Session>();
  private readonly endpoints: EndpointBook;
  private readonly alerts = new AlertLog();
  private readonly denials = new DenialLog();
  /** Challenges for signed admin requests (the credential itself never travels). */
  private readonly challenges: AdminChallenges;
  /** The certificates that speak for each instance (lineage.ts). */
  private readonly lineage: Lineage;
  private graceTimer?: NodeJS.Timeout;
  private stopping = false;
  private admission?: ReturnType<typeof admitProxyConnections>;
  /** Pods' addresses by workload instance, from the node agents that run them. */
  private readonly podAddresses = new Map<string, string>();
  private readonly targetFile?: TargetFile;
  /** Configuration text shared by the proxies that get the same, and parts kept between pushes. */
  private readonly lines = new ConfigLines();
  private pushVersion = 0;
  /** Pushes whose endpoints the node agent has not yet made into pods' cluster-IP rules. */
  private podRulesPending = 0;
  /** The latest pushes: which snapshot each carried and which proxies it sent a new configuration to (what an apply waits for). */
  private pushes: { snapshot: number; version: number; sentTo: string[] }[] = [];
  private timer?: NodeJS.Timeout;
  private pending = false;
  private waiters: (() => void)[] = [];
  private unsubscribe?: () => void;
  address = "";
  adminAddress = "";

  /** The nodes' side of the endpoint, when this control plane takes nodes. */
  readonly nodes?: NodeEndpoint;

  constructor(private readonly opts: ControlPlaneOptions) {
    if (opts.prometheusTargetsFile) this.targetFile = new TargetFile(opts.prometheusTargetsFile);
    this.nodes = opts.join ? new NodeEndpoint(opts.join, {
      snapshot: () => this.opts.store.snapshot(),
      assignPodAddress: (w, ip) => this.assignPodAddress(w, ip),
      registerEndpoints: (w, l) => this.registerEndpoints(w, l),
      issueBootstrap: (w, by) => this.issueBootstrap(w, by),
      // A sidecar whose own stream is still open speaks for itself: only the gone ones' endpoints go.
      withdraw: (w) => this.sessions.has(w) || this.endpoints.leave(w),
      authenticated: (peer) => this.admission?.authenticated(peer),
      changed: () => this.schedulePush(0),
      audit: (event, fields) => this.audit(event, fields),
    }, opts.reservedPodCidrs, opts.nodesFile, opts.localPods) : undefined;
    this.lineage = new Lineage(opts.lineageFile, (error) => this.audit("lineage-read-error", { error }));
    this.challenges = new AdminChallenges(opts.adminToken);
    this.endpoints = EndpointBook.open(opts.endpointsFile, opts.endpointGraceMs, Date.now(), (error) =>
      this.opts.audit?.({ time: new Date().toISOString(), event: "endpoints-save-error", code: Codes.IO, error }));
  }

  private audit(event: string, fields: Record<string, unknown>): void {
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
        this.schedulePush(0);
      }
      this.expireEndpointsLater();
    }, Math.max(0, next - Date.now()));
    this.graceTimer.unref();
  }

  async start(): Promise<void> {
    // Prometheus finds a file from the start, empty until proxies connect.
    this.targetsChanged();
    const host = this.opts.host ?? "127.0.0.1";
    const serving = await this.servingCertificate();
    // A proxy needs two streams (its certificate, its config stream); a handshake gets as long as a proxy's listener gives one.
    this.secure = createSecureServer({ ...SERVER_TLS, ...serving.tls, requestCert: true, rejectUnauthorized: false, handshakeTimeout: LIMITS.headersMs, settings: { maxConcurrentStreams: 16, maxHeaderListSize: 16 * 1024 } });
    this.rotateServingAt(serving.notAfter);
    this.secure.on("stream", (stream, headers) => void this.onStream(stream, headers).catch((e) => this.fail(stream, headers, e)));
    this.secure.on("sessionError", () => {});
    // A peer that opens connections and never finishes a handshake or a request is dropped.
    this.secure.setTimeout(this.opts.idleMs ?? LIMITS.idleMs);
    capConnections(this.secure, LIMITS.proxyConnections);
    this.admission = admitProxyConnections(this.secure, { ...LIMITS, ...this.opts.admission });
    await listenOn(this.secure, this.opts.port ?? 15012, host, "the proxies' endpoint");
    // Listening on every address (pods reach it on their bridge's), local proxies still dial loopback.
    this.address = `${host === "0.0.0.0" ? "127.0.0.1" : host}:${(this.secure.address() as AddressInfo).port}`;
    this.admin = createHttpServer({ headersTimeout: LIMITS.headersMs, requestTimeout: LIMITS.adminRequestMs, maxHeaderSize: 16 * 1024 }, (req, res) => void this.onAdmin(req, res).catch((e) => this.adminFailed(req, res, e)));
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
      this.schedulePush();
    });
  }

  /** The control plane's own certificate, from its own CA, as short-lived as a workload's. */
  private async servingCertificate(): Promise<{ tls: { cert: string; key: string; ca: string }; notAfter: Date }> {
    const spiffe = `spiffe://${this.opts.store.snapshot().mesh.trustDomain}${CONTROL_SPIFFE_SUFFIX}`;
    const { csrPem, keyPem } = await createCsr(spiffe);
    const issued = await this.opts.ca.sign(csrPem, spiffe);
    return { tls: { cert: issued.certPem + issued.chainPem, key: keyPem, ca: this.opts.ca.rootPem }, notAfter: issued.notAfter };
  }

  /** Rotates the serving certificate at half-life, as proxies do theirs: new connections get the new one. */
  private rotateServingAt(notAfter: Date): void {
    const lifetime = notAfter.getTime() - Date.now();
    this.servingRotation = setTimeout(() => {
      this.servingCertificate().then((next) => {
        this.secure?.setSecureContext(next.tls);
        this.opts.audit?.({ time: new Date().toISOString(), event: "serving-certificate-rotated", notAfter: next.notAfter.toISOString() });
        this.rotateServingAt(next.notAfter);
      }, (e: Error) => {
        this.opts.audit?.({ time: new Date().toISOString(), event: "serving-certificate-error", error: e.message });
        this.rotateServingAt(new Date(Date.now() + 2000)); // retry in about a second
      });
    }, Math.max(500, lifetime / 2));
    this.servingRotation.unref();
  }

  async stop(): Promise<void> {
    // Streams closed by stopping are not proxies leaving: the book keeps them for the next start.
    this.stopping = true;
    clearTimeout(this.servingRotation);
    clearTimeout(this.timer);
    clearTimeout(this.graceTimer);
    this.unsubscribe?.();
    for (const s of this.sessions.values()) s.stream.close();
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
    this.schedulePush(0);
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

  // ---------- proxies' endpoint ----------

  private authenticate(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Caller {
    const auth = headers["authorization"];
    if (typeof auth === "string" && auth.startsWith("Bearer ")) {
      const claim = this.opts.bootstrap.verify(auth.slice(7), new Date());
      return { workload: claim.workload, spiffe: claim.spiffe, claim };
    }
    // Reconnects and rotations: a current certificate from this mesh's CA proves the identity (the TLS stack checked
    // its chain to the mesh root and its validity: `authorized`); the header names the instance, and the certificate
    // must be one issued to that instance.
    const socket = stream.session?.socket as TLSSocket | undefined;
    const cert = socket?.getPeerX509Certificate();
    if (!cert) throw new ZmError(Codes.BOOTSTRAP, "present a bootstrap credential, or a workload certificate matching x-zeromesh-workload");
    if (!socket!.authorized) throw new ZmError(Codes.BOOTSTRAP, `the client certificate is not a valid certificate of this mesh (${socket!.authorizationError})`);
    const spiffe = spiffeOf(cert.raw);
    const workload = headers["x-zeromesh-workload"];
    const w = typeof workload === "string" ? Registry.of(this.opts.store.snapshot()).workload(workload) : undefined;
    if (!spiffe || !w || w.spiffe !== spiffe) throw new ZmError(Codes.BOOTSTRAP, `the certificate's identity ${spiffe ?? "(none)"} is not the identity of workload ${String(workload)}`);
    if (!this.lineage.speaksFor(w.id, cert.serialNumber)) throw new ZmError(Codes.BOOTSTRAP, `certificate ${cert.serialNumber} was not issued to ${w.id} (another instance's, or one from before its last bootstrap)`);
    return { workload: w.id, spiffe, serial: cert.serialNumber };
  }

  private async onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    stream.on("error", () => {});
    const path = headers[":path"];
    if (typeof path === "string" && path.startsWith("/v1/node/")) {
      if (!this.nodes) throw new ZmError(Codes.NODE, "this control plane takes no nodes (zeromesh up --listen ADDR)");
      return this.nodes.onStream(stream, headers, path);
    }
    const caller = this.authenticate(stream, headers);
    if (path === "/v1/certificate") return this.issueCertificate(stream, caller);
    if (path !== "/v1/stream") throw new ZmError(Codes.NOT_FOUND, `no such endpoint ${path}`);
    if (caller.claim) throw new ZmError(Codes.BOOTSTRAP, "a config stream is opened with the workload certificate, not a bootstrap credential");
    this.openSession(stream, caller.workload);
  }

  /** One certificate per bootstrap credential (spent first, refunded if signing fails); renewals extend the instance's lineage. */
  private async issueCertificate(stream: ServerHttp2Stream, caller: Caller): Promise<void> {
    const body = await readJson<{ csr?: unknown }>(stream, LIMITS.csrBytes);
    const csr = typeof body.csr === "string" ? body.csr : "";
    if (caller.claim) this.opts.bootstrap.spend(caller.claim, new Date(), createHash("sha256").update(csr).digest("base64url"));
    let issued;
    try {
      issued = await this.opts.ca.sign(csr, caller.spiffe);
    } catch (e) {
      if (caller.claim) this.opts.bootstrap.refund(caller.claim);
      throw e;
    }
    const cert = new X509Certificate(issued.certPem);
    // A bootstrap starts a new lineage: the instance's earlier certificates (a previous process's) open nothing any more.
    this.lineage.issued(caller.workload, cert.serialNumber, caller.claim !== undefined);
    if (caller.claim) for (const s of this.sessions.values()) if (s.record.id === caller.workload) s.stream.close();
    const record: ProxyRecord = this.proxies.get(caller.workload) ?? { id: caller.workload, connected: false, listeners: {} };
    record.certificate = { serial: cert.serialNumber, notBefore: cert.validFrom, notAfter: cert.validTo, spiffe: caller.spiffe };
    this.proxies.set(caller.workload, record);
    this.audit("certificate-issued", { proxy: caller.workload, spiffe: caller.spiffe, serial: cert.serialNumber, notAfter: issued.notAfter.toISOString(), proof: caller.claim ? "bootstrap" : `certificate ${caller.serial}` });
    stream.respond({ ":status": 200, "content-type": "application/json" });
    stream.end(JSON.stringify({ ...issued, notAfter: issued.notAfter.toISOString() }));
  }

  private openSession(stream: ServerHttp2Stream, workload: string): void {
    const old = this.sessions.get(workload);
    if (old) old.stream.close();
    const record: ProxyRecord = this.proxies.get(workload) ?? { id: workload, connected: true, listeners: {} };
    record.connected = true;
    record.connectedAt = new Date().toISOString();
    // A new stream starts from nothing: the proxy gets a full push, and is NOT SENT (not in sync) until it
    // acknowledges one on this stream — what it acknowledged on the last one says nothing about its hello.
    record.sentDigest = undefined;
    record.sentVersion = undefined;
    record.nack = undefined;
    this.proxies.set(workload, record);
    const session: Session = { stream, record, leaving: false, helloSeen: false, lastReport: { "egress-blocked": 0, denials: 0 }, owed: false };
    // At most one configuration waits in a proxy's stream: a slow reader gets the latest when it has taken the last,
    // never a queue of every push in between (a mesh of thousands would hold gigabytes for its slowest proxies).
    stream.on("drain", () => {
      if (!session.owed) return;
      session.owed = false;
      this.pushAll(session);
    });
    this.sessions.set(workload, session);
    stream.respond({ ":status": 200, "content-type": "application/x-ndjson" });
    onJsonLines(stream, (m: unknown) => {
      const checked = checkProxyMessage(m);
      if (typeof checked === "string") return this.dropSession(session, checked);
      this.onProxyMessage(session, checked);
    }, { maxLine: LIMITS.proxyLineBytes, onBad: (why) => this.dropSession(session, why) });
    stream.on("close", () => {
      if (this.sessions.get(workload) === session) {
        this.sessions.delete(workload);
        record.connected = false;
        if (session.leaving) {
          this.proxies.delete(workload);
          this.endpoints.leave(workload);
          this.schedulePush();
        } else if (!this.stopping) {
          this.endpoints.lose(workload, Date.now());
          this.expireEndpointsLater();
        }
        this.targetsChanged();
        this.notifyWaiters();
      }
    });
  }

  /** The Prometheus targets file follows the connected proxies; a failed write is audited, never fatal. */
  private targetsChanged(): void {
    try {
      this.targetFile?.update(targetGroups(this.proxies.values()));
    } catch (e) {
      this.audit("prometheus-targets-unwritable", { file: this.opts.prometheusTargetsFile, why: (e as Error).message });
    }
  }

  /** A proxy that sends what the protocol does not allow loses its stream (it reconnects); everyone else is unaffected. */
  private dropSession(session: Session, why: string): void {
    this.audit("proxy-message-rejected", { proxy: session.record.id, why, code: Codes.BAD_MESSAGE });
    session.stream.close();
  }

  private onProxyMessage(session: Session, m: ProxyMessage): void {
    const record = session.record;
    if ((m.type === "egress-blocked" || m.type === "denials") && !this.takesReport(session, m.type)) return;
    if (m.type === "egress-blocked") {
      const alerts = AlertLog.fromReport(record.id, m as Parameters<typeof AlertLog.fromReport>[1], new Date());
      this.alerts.add(alerts);
      for (const a of alerts) {
        this.opts.audit?.({ ...a });
        this.opts.notifier?.notify(`*Egress blocked* by ${a.policy ?? "REGISTRY_ONLY"}: \`${a.proxy}\` → ${a.protocol} \`${a.host}:${a.port}\`, ${a.count} time${a.count === 1 ? "" : "s"} (${a.first} – ${a.last}). ${a.reason}`);
      }
    } else if (m.type === "denials") {
      this.denials.add(DenialLog.fromReport(record.id, m, new Date()));
    } else if (m.type === "leave") {
      session.leaving = true;
      session.stream.end();
    } else if (m.type === "hello") {
      if (session.helloSeen) return this.dropSession(session, "a second hello on one stream");
      session.helloSeen = true;
      // A proxy announces listeners on its own workload's address only: never someone else's endpoints.
      // In a pod, that is the pod's IP, which its node gave it (assignPodAddress).
      const w = Registry.of(this.opts.store.snapshot()).workload(record.id);
      const own = this.podAddresses.get(record.id) ?? w?.address;
      const foreign = Object.values(m.listeners).find((a) => w && a.slice(0, a.lastIndexOf(":")) !== own);
      if (foreign) return this.dropSession(session, `hello announces ${foreign}, not on the workload's address ${own}`);
      record.listeners = m.listeners;
      record.outbound = m.outbound;
      record.stats = m.stats;
      this.targetsChanged();
      // An empty table of listeners is no endpoint at all: nothing for the others to learn.
      const before = JSON.stringify(this.endpoints.table()[record.id] ?? {});
      this.endpoints.connect(record.id, record.listeners);
      // The new proxy gets its configuration now; the others only if its listeners changed what they may reach,
      // and then in one push with every other hello of the moment (a mesh starting is thousands of hellos).
      this.pushAll(session);
      if (JSON.stringify(record.listeners) !== before) this.schedulePush();
    } else if (m.type === "ack" && m.version !== undefined) {
      record.ackedVersion = Math.max(record.ackedVersion ?? 0, m.version);
      this.notifyWaiters();
    } else if (m.type === "nack" && m.version !== undefined) {
      // One audit line per rejected version, however often the proxy says it.
      if (record.nack?.version !== m.version) this.opts.audit?.({ time: new Date().toISOString(), event: "config-rejected", proxy: record.id, version: m.version, error: m.error });
      record.nack = { version: m.version, error: m.error ?? "" };
      this.notifyWaiters();
    }
  }

  /**
   * What a proxy holds, made again from the configuration it would get now (the control plane keeps a digest per
   * proxy, not the text): exactly what it was sent when the digests agree; else it is out of date, and says so.
   */
  private sentConfig(p: ProxyRecord): { config: unknown; configNote?: string } {
    const w = Registry.of(this.opts.store.snapshot()).workload(p.id);
    if (!w || p.sentVersion === undefined || !p.sentDigest) return { config: null };
    const endpoints = this.endpoints.table();
    const lines = new ConfigLines();
    lines.begin(this.opts.store.snapshot(), endpoints, this.names(endpoints), this.opts.outsideRoots);
    const body = lines.body(w);
    // As Envoy's config dump: private keys are never shown (the proxy holds them; an operator needs chains and serials).
    const config = redactKeys(configOf(p.sentVersion, p.id, body));
    return body.digest === p.sentDigest ? { config } : { config, configNote: `the proxy holds an older configuration than this one, which it is about to get` };
  }

  /** Whether a report of this kind is taken now: a proxy that reports faster than proxies do cannot crowd out the others' alerts and denials. */
  private takesReport(session: Session, type: ReportType): boolean {
    const now = Date.now();
    if (now - session.lastReport[type] < REPORT_MIN_MS) return false;
    session.lastReport[type] = now;
    return true;
  }

  /** Coalesces bursts of changes into one push. */
  private schedulePush(delay = this.opts.debounceMs ?? 50): void {
    this.pending = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pushAll(), delay);
  }

  /** Cluster DNS for names a proxy may pass through to (ALLOW_ANY), plus the configured outside names. */
  private names(endpoints: EndpointTable): Record<string, string> {
    const reg = Registry.of(this.opts.store.snapshot());
    const out: Record<string, string> = { ...this.opts.names };
    for (const s of reg.services) {
      if (!s.source.startsWith("Service/")) continue;
      for (const p of s.ports) {
        const ep = reg.endpoints(s, p).find((e) => endpoints[e.workload.id]?.[String(e.port)]);
        if (ep) out[`${s.hostname}:${p.port}`] = endpoints[ep.workload.id]![String(ep.port)]!;
      }
    }
    return out;
  }

  /** Sends every proxy (or only `one`) the configuration it should have, where that differs from what it was sent. */
  private pushAll(one?: Session): void {
    if (!one) this.pending = false;
    const snapshot = this.opts.store.snapshot();
    const reg = Registry.of(snapshot);
    const endpoints = this.endpoints.table();
    this.lines.begin(snapshot, endpoints, this.names(endpoints), this.opts.outsideRoots);
    const version = ++this.pushVersion;
    const sentTo: string[] = [];
    for (const session of one ? [one] : this.sessions.values()) {
      const { stream, record } = session;
      const w = reg.workload(record.id);
      if (!w) continue; // removed from config: it keeps its last good configuration until it stops
      const body = this.lines.body(w);
      if (body.digest === record.sentDigest) continue;
      if (stream.writableNeedDrain) {
        // Counted as sent to in this push: an apply waits for this proxy's acknowledgement of what it gets on drain.
        session.owed = true;
        sentTo.push(record.id);
        continue;
      }
      record.sentDigest = body.digest;
      record.sentVersion = version;
      sentTo.push(record.id);
      stream.write(configLineStart(version, record.id));
      stream.write(body.tail);
    }
    if (one) return this.notifyWaiters();
    this.pushes = [...this.pushes.slice(-99), { snapshot: snapshot.version, version, sentTo }];
    this.nodes?.push(snapshot, endpoints, version);
    if (this.opts.pods?.applyServices) {
      this.podRulesPending++;
      // This machine's pods reach the joined nodes' pods by routes too.
      void this.opts.pods.applyServices(endpoints, this.nodes?.book.routesFor() ?? []).finally(() => {
        this.podRulesPending--;
        this.notifyWaiters();
      });
    }
    this.notifyWaiters();
  }

  /** True when no push is pending and every connected proxy acknowledged (or rejected) what it was sent. */
  synced(expected: string[] = []): boolean {
    if (this.pending || this.podRulesPending) return false;
    for (const id of expected) if (!this.sessions.has(id)) return false;
    for (const { record, owed } of this.sessions.values()) {
      const s = syncStatus(record);
      if (owed || s === "STALE" || s === "NOT SENT") return false;
    }
    return true;
  }

  /**
   * Waits until the configuration of snapshot `v` is enforced: pushed, and acknowledged (or rejected) by every
   * proxy whose configuration it changed. A proxy a Sidecar scope hides the change from was sent nothing and is
   * not waited for.
   */
  async waitEnforced(v: number, timeoutMs: number): Promise<{ acked: string[]; rejected: string[]; pending: string[]; disconnected: string[] }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const push = this.pushes.find((p) => p.snapshot >= v);
      const state = (id: string) => {
        const r = this.proxies.get(id);
        if (push && r?.nack && r.nack.version >= push.version) return "rejected";
        return push && r && (r.ackedVersion ?? 0) >= push.version ? "acked" : "pending";
      };
      const ids = push?.sentTo ?? [];
      const pending = push ? ids.filter((id) => state(id) === "pending") : ["(not pushed yet)"];
      const left = deadline - Date.now();
      // A proxy whose stream dropped may still be serving (its endpoints stay for the grace) with what it had: it was
      // sent nothing, and cannot be said to enforce the change.
      const disconnected = [...this.proxies.values()].filter((p) => !p.connected && p.connectedAt).map((p) => p.id);
      if (!pending.length || left <= 0) return { acked: ids.filter((id) => state(id) === "acked"), rejected: ids.filter((id) => state(id) === "rejected"), pending, disconnected };
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  private notifyWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  private async waitSynced(expected: string[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.synced(expected)) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  // ---------- admin API (loopback) ----------

  private respond(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body, null, 2));
  }

  /** An admin call that failed: 4xx for the caller's mistakes (audited when it was refused), 500 for ours. */
  private adminFailed(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    const code = e instanceof ZmError ? e.code : "ZM_INTERNAL";
    const status = code === Codes.ADMIN_AUTH ? 401 : code === Codes.TOO_LARGE ? 413 : code === Codes.NOT_FOUND ? 404 : e instanceof ZmError ? 400 : 500;
    if (status === 401 || status === 413) this.audit("admin-refused", { route: `${req.method} ${(req.url ?? "").slice(0, 100)}`, from: req.socket.remoteAddress, status, why: (e as Error).message });
    if (res.headersSent) return void res.destroy();
    // A refused caller's connection goes once the answer is out: a body still arriving is not read.
    res.writeHead(status, { "content-type": "application/json", ...(status === 413 || status === 401 ? { connection: "close" } : {}) }).end(JSON.stringify({ error: (e as Error).message, code }, null, 2));
  }

  private async onAdmin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The one unauthenticated call: a challenge to sign a request over, with this control plane's proof that it holds
    // the credential (so a client never signs anything for a process squatting on this port).
    if (req.method === "GET" && req.url === "/v1/challenge") return this.respond(res, 200, this.challenges.issue());
    // The signature covers the body, so the body is read first (within the largest limit; a larger declared one is
    // refused before a byte of it is read).
    const text = await readBody(req, LIMITS.applyBytes, req.headers["content-length"]);
    const refused = this.challenges.verify(req.headers.authorization, req.method ?? "", req.url ?? "", text);
    if (refused) throw new ZmError(Codes.ADMIN_AUTH, refused);
    const url = new URL(req.url ?? "/", "http://admin");
    const route = `${req.method} ${url.pathname}`;
    const store = this.opts.store;
    switch (route) {
      case "GET /v1/proxy-status": {
        const reg = Registry.of(this.opts.store.snapshot());
        return this.respond(res, 200, [...this.proxies.values()].map((p) => ({ proxy: p.id, connected: p.connected, status: syncStatus(p), sent: p.sentVersion ?? null, acked: p.ackedVersion ?? null, nack: p.nack ?? null, pod: this.podAddresses.get(p.id) ?? null, node: reg.workload(p.id)?.node ?? null })));
      }
      case "GET /v1/nodes":
        return this.respond(res, 200, this.nodes?.list() ?? []);
      case "POST /v1/nodes/token": {
        if (!this.nodes || !this.opts.join) throw new ZmError(Codes.NODE, "this control plane takes no nodes (zeromesh up --listen ADDR)");
        const body = parseJsonObject<{ node: unknown }>(text);
        if (typeof body.node !== "string") throw new ZmError(Codes.BAD_MESSAGE, "a join credential request is {node: \"NAME\"}");
        const expires = new Date(Date.now() + (this.opts.joinTtlMs ?? 86_400_000));
        const token = this.opts.join.issue(body.node, expires);
        this.audit("join-credential-issued", { node: body.node, expires: expires.toISOString() });
        return this.respond(res, 200, { node: body.node, token, expires: expires.toISOString(), rootPem: this.opts.ca.rootPem });
      }
      case "GET /v1/pods":
        return this.respond(res, 200, this.opts.pods?.list() ?? []);
      case "POST /v1/pods": case "POST /v1/pods/delete": {
        if (!this.opts.pods) throw new ZmError(Codes.NO_PODS, "this control plane runs no pods (zeromesh up --loopback, or pods are unavailable on this machine: see its start-up message)");
        const body = parseJsonObject<{ workload: string }>(text);
        if (typeof body.workload !== "string" || !/^[a-z0-9-.]+\/[a-z0-9-.]+$/.test(body.workload)) throw new ZmError(Codes.BAD_MESSAGE, "a pod request is {workload: \"NS/NAME\"}");
        if (route === "POST /v1/pods/delete") {
          await this.opts.pods.deletePod(body.workload);
          this.opts.audit?.({ time: new Date().toISOString(), event: "pod-deleted", workload: body.workload });
          return this.respond(res, 200, { deleted: body.workload });
        }
        const pod = await this.opts.pods.createPod(body.workload).catch((e: Error) => {
          throw new ZmError(Codes.POD, `pod for ${body.workload}: ${e.message}`);
        });
        this.opts.audit?.({ time: new Date().toISOString(), event: "pod-created", workload: pod.id, ip: pod.ip, netns: pod.netns });
        return this.respond(res, 200, pod);
      }
      case "GET /v1/prometheus-targets":
        return this.respond(res, 200, targetGroups(this.proxies.values()));
      case "GET /v1/workloads": {
        const reg = Registry.of(store.snapshot());
        return this.respond(res, 200, reg.workloads.map((w) => {
          const p = this.proxies.get(w.id);
          return { id: w.id, owner: w.owner, namespace: w.namespace, spiffe: w.spiffe, sidecar: w.sidecar, gateway: w.gateway, status: p ? syncStatus(p) : null };
        }));
      }
      case "GET /v1/workload": {
        const id = url.searchParams.get("id") ?? "";
        const view = workloadView(store.snapshot(), id);
        if (!view) throw new ZmError(Codes.NOT_FOUND, `no workload ${JSON.stringify(id.slice(0, 100))} in the configuration`);
        const p = this.proxies.get(view.id);
        return this.respond(res, 200, { ...view, proxy: p ? { status: syncStatus(p), connected: p.connected, listeners: p.listeners, outbound: p.outbound ?? null, stats: p.stats ?? null, sent: p.sentVersion ?? null, acked: p.ackedVersion ?? null, certificate: p.certificate ?? null } : null });
      }
      case "POST /v1/check": {
        const body = parseJsonObject<CheckQuery>(text);
        const strings = (v: unknown) => v === undefined || (Array.isArray(v) && v.length <= 64 && v.every((h) => typeof h === "string"));
        if (typeof body.from !== "string" || typeof body.to !== "string" || !["string", "undefined"].includes(typeof body.via) || !["string", "undefined"].includes(typeof body.method) || !strings(body.headers)) {
          throw new ZmError(Codes.BAD_MESSAGE, "a check is {from: \"NS/WORKLOAD\"|\"outside\", via?: \"NS/SVC:PORT\", to: URL, method?, headers?: [\"name: value\"]}");
        }
        // The live configuration, as the proxies have it; the client's TLS trust is not asked for here.
        return this.respond(res, 200, await checkQuery(store.snapshot(), { from: body.from, via: body.via, to: body.to, method: body.method, headers: body.headers }));
      }
      case "GET /v1/denials":
        return this.respond(res, 200, this.denials.list());
      case "GET /v1/alerts":
        return this.respond(res, 200, this.alerts.list());
      case "GET /v1/alert-deliveries":
        return this.respond(res, 200, this.opts.notifier?.failures() ?? []);
      case "GET /v1/proxy-config": {
        const p = this.proxies.get(url.searchParams.get("proxy") ?? "");
        if (!p) throw new ZmError(Codes.NOT_FOUND, `no proxy ${url.searchParams.get("proxy")} has connected`);
        // As Envoy's config dump: private keys are never shown (the proxy holds them; an operator needs chains and serials).
        return this.respond(res, 200, { proxy: p.id, status: syncStatus(p), listeners: p.listeners, outbound: p.outbound, stats: p.stats ?? null, certificate: p.certificate ?? null, version: p.sentVersion ?? null, ...this.sentConfig(p) });
      }
      case "POST /v1/apply": case "POST /v1/validate": {
        const body = parseJsonObject<{ files: { file: string; text: string }[]; mesh?: unknown; remove?: ResourceKey[]; cause?: string; namespace?: string }>(text);
        if (!Array.isArray(body.files) || !body.files.every((f) => typeof f?.file === "string" && typeof f?.text === "string") || (body.remove !== undefined && !Array.isArray(body.remove)) || (body.namespace !== undefined && typeof body.namespace !== "string")) {
          throw new ZmError(Codes.BAD_MESSAGE, "an apply is {files: [{file, text}], mesh?, remove?: [{kind, namespace, name}], cause?, namespace?}");
        }
        const issues: Issue[] = [];
        const meshBase = store.snapshot().mesh;
        const mesh = body.mesh !== undefined ? mergeMeshConfig(meshBase, body.mesh, { file: body.cause ?? "apply", doc: 1, path: "mesh" }, issues) : undefined;
        const parsed = parseTexts(body.files, mesh ?? meshBase, body.namespace);
        issues.push(...parsed.issues);
        const errors = errorsOf(issues);
        if (errors.length) return this.respond(res, 422, { code: errors[0]!.code, errors: errors.map(formatIssue) });
        if (route === "POST /v1/validate") return this.respond(res, 200, { resources: parsed.resources.map(keyOf) });
        const event = store.commit({ upsert: parsed.resources, remove: body.remove ?? [], mesh: parsed.mesh ?? mesh, cause: body.cause ?? "admin apply" });
        // ?waitMs=N: answer once every proxy the change affects enforces it (kubectl's apply returns at once; a DENY
        // that is not yet enforced is a promise not kept, so zeromesh apply waits by default).
        const waitMs = Number(url.searchParams.get("waitMs") ?? 0);
        const enforced = waitMs > 0 ? await this.waitEnforced(event.version, Math.min(waitMs, LIMITS.maxSyncWaitMs)) : undefined;
        return this.respond(res, 200, { ...event, warnings: issues.map(formatIssue), ...(enforced ? { enforced } : {}) });
      }
      case "GET /v1/resources": {
        const kind = url.searchParams.get("kind");
        const ns = url.searchParams.get("namespace");
        const list = [...store.snapshot().resources.values()].filter((r) => (!kind || r.kind.toLowerCase() === kind.toLowerCase()) && (!ns || r.meta.namespace === ns));
        const mesh = store.snapshot().mesh;
        // The meshConfig fields `zeromesh analyze` reads, with the resources.
        return this.respond(res, 200, { version: store.snapshot().version, items: list.map((r) => redactKeys(manifestOf(r))), mesh: { rootNamespace: mesh.rootNamespace, defaultProviders: mesh.defaultProviders, extensionProviders: mesh.extensionProviders } });
      }
      case "POST /v1/bootstrap": {
        const body = parseJsonObject<{ workload?: unknown }>(text);
        if (typeof body.workload !== "string") throw new ZmError(Codes.BAD_MESSAGE, "a bootstrap request is {workload: \"ns/name\"}");
        const spiffe = Registry.of(store.snapshot()).workload(body.workload)?.spiffe;
        return this.respond(res, 200, { token: this.issueBootstrap(body.workload, `admin API from ${req.socket.remoteAddress}`), spiffe, control: this.address, rootPem: this.opts.ca.rootPem });
      }
      case "POST /v1/endpoints": {
        const body = parseJsonObject<{ workload: string; listeners: Record<string, string> | null }>(text);
        if (typeof body.workload !== "string" || (body.listeners !== null && !isListenerTable(body.listeners))) {
          throw new ZmError(Codes.BAD_MESSAGE, "an endpoint registration is {workload: \"ns/name\", listeners: {PORT: \"ADDR:PORT\"} | null}");
        }
        this.registerEndpoints(body.workload, body.listeners);
        return this.respond(res, 200, { ok: true });
      }
      case "GET /v1/sync": {
        const expected = (url.searchParams.get("proxies") ?? "").split(",").filter(Boolean);
        const asked = Number(url.searchParams.get("timeoutMs") ?? 10_000);
        const ok = await this.waitSynced(expected, Number.isFinite(asked) ? Math.min(Math.max(asked, 0), LIMITS.maxSyncWaitMs) : 10_000);
        return this.respond(res, ok ? 200 : 504, { synced: ok, proxies: [...this.proxies.values()].map((p) => ({ proxy: p.id, status: syncStatus(p), connected: p.connected })) });
      }
      default:
        throw new ZmError(Codes.NOT_FOUND, `no admin route ${route}`);
    }
  }

  private fail(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, e: unknown): void {
    const code = e instanceof ZmError ? e.code : "ZM_INTERNAL";
    const status = code === Codes.BOOTSTRAP || code === Codes.CA_IDENTITY || code === Codes.NODE ? 403 : code === Codes.TOO_LARGE ? 413 : e instanceof ZmError ? 400 : 500;
    if (status === 403 || status === 413) this.audit("proxy-refused", { path: String(headers[":path"]).slice(0, 100), workload: String(headers["x-zeromesh-workload"] ?? "").slice(0, 100), from: stream.session?.socket?.remoteAddress, status, why: (e as Error).message });
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
