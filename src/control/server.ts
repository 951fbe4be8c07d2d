// The control plane: config store, CA, bootstrap credentials, and one
// long-lived HTTP/2 stream per proxy carrying versioned, debounced, scoped
// configuration and the proxy's ACK/NACK. An admin API on loopback serves
// the CLI (apply, get, proxy-status, proxy-config).
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { X509Certificate } from "node:crypto";
import { createSecureServer, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Codes, ZmError, errorsOf, formatIssue, type Issue } from "../api/errors.js";
import { manifestOf } from "../api/load.js";
import { mergeMeshConfig } from "../api/mesh.js";
import { keyOf } from "../api/types.js";
import { BootstrapAuthority, type BootstrapIdentity } from "../ca/bootstrap.js";
import type { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { spiffeOf } from "../proxy/credentials.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import type { ConfigStore, ResourceKey } from "../store/store.js";
import { AlertLog } from "./alerts.js";
import { EndpointBook } from "./endpoints.js";
import { buildProxyConfig, type EndpointTable } from "./proxy-config.js";
import { onJsonLines } from "./ndjson.js";
import { syncStatus, type ProxyRecord } from "./push.js";

export const CONTROL_SERVER_NAME = "zeromesh-control";

export interface ControlPlaneOptions {
  store: ConfigStore;
  ca: CertificateAuthority;
  bootstrap: BootstrapAuthority;
  bootstrapTtlMs: number;
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
  /** Where endpoints are remembered across restarts (none: a restart forgets them). */
  endpointsFile?: string;
  /** How long a proxy's endpoints are still served after its stream drops (or the control plane restarts) while it reconnects (ZEROMESH_ENDPOINT_GRACE). */
  endpointGraceMs: number;
}

interface Session {
  stream: ServerHttp2Stream;
  record: ProxyRecord;
  /** The proxy said it is stopping: its endpoints go when the stream closes. */
  leaving: boolean;
}

export class ControlPlane {
  private secure?: Http2SecureServer;
  private servingRotation?: NodeJS.Timeout;
  private admin?: HttpServer;
  private readonly proxies = new Map<string, ProxyRecord>();
  private readonly sessions = new Map<string, Session>();
  private readonly endpoints: EndpointBook;
  private readonly alerts = new AlertLog();
  private graceTimer?: NodeJS.Timeout;
  private stopping = false;
  private pushVersion = 0;
  private timer?: NodeJS.Timeout;
  private pending = false;
  private waiters: (() => void)[] = [];
  private unsubscribe?: () => void;
  address = "";
  adminAddress = "";

  constructor(private readonly opts: ControlPlaneOptions) {
    this.endpoints = EndpointBook.open(opts.endpointsFile, opts.endpointGraceMs, Date.now(), (error) =>
      this.opts.audit?.({ time: new Date().toISOString(), event: "endpoints-save-error", code: Codes.IO, error }));
  }

  /** Forgets remembered proxies when their grace ends, and pushes the change. */
  private expireEndpointsLater(): void {
    clearTimeout(this.graceTimer);
    const next = this.endpoints.nextExpiry();
    if (next === undefined) return;
    this.graceTimer = setTimeout(() => {
      const gone = this.endpoints.expire(Date.now());
      if (gone.length) {
        this.opts.audit?.({ time: new Date().toISOString(), event: "endpoints-forgotten", proxies: gone, why: "did not reconnect within the grace" });
        this.schedulePush(0);
      }
      this.expireEndpointsLater();
    }, Math.max(0, next - Date.now()));
    this.graceTimer.unref();
  }

  async start(): Promise<void> {
    const host = this.opts.host ?? "127.0.0.1";
    const serving = await this.servingCertificate();
    this.secure = createSecureServer({ ...serving.tls, requestCert: true, rejectUnauthorized: false });
    this.rotateServingAt(serving.notAfter);
    this.secure.on("stream", (stream, headers) => void this.onStream(stream, headers).catch((e) => this.fail(stream, e)));
    this.secure.on("sessionError", () => {});
    await new Promise<void>((r) => this.secure!.listen(this.opts.port ?? 15012, host, r));
    this.address = `${host}:${(this.secure.address() as AddressInfo).port}`;
    this.admin = createHttpServer((req, res) => void this.onAdmin(req, res).catch((e) => this.respond(res, e instanceof ZmError ? 400 : 500, { error: (e as Error).message, code: (e as ZmError).code })));
    await new Promise<void>((r) => this.admin!.listen(this.opts.adminPort ?? 15014, host, r));
    this.adminAddress = `${host}:${(this.admin.address() as AddressInfo).port}`;
    const awaited = this.endpoints.awaited();
    if (awaited.length) this.opts.audit?.({ time: new Date().toISOString(), event: "endpoints-remembered", proxies: awaited, graceMs: this.opts.endpointGraceMs });
    this.expireEndpointsLater();
    this.unsubscribe = this.opts.store.subscribe((e) => {
      this.opts.audit?.({ time: new Date().toISOString(), event: "config-change", version: e.version, cause: e.cause, created: e.created, updated: e.updated, deleted: e.deleted, meshChanged: e.meshChanged });
      this.schedulePush();
    });
  }

  /** The control plane's own certificate, from its own CA, as short-lived as a workload's. */
  private async servingCertificate(): Promise<{ tls: { cert: string; key: string; ca: string }; notAfter: Date }> {
    const spiffe = `spiffe://${this.opts.store.snapshot().mesh.trustDomain}/ns/istio-system/sa/zeromesh-control`;
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
    await Promise.all([
      new Promise<void>((r) => (this.secure ? this.secure.close(() => r()) : r())),
      new Promise<void>((r) => {
        if (!this.admin) return r();
        this.admin.closeAllConnections();
        this.admin.close(() => r());
      }),
    ]);
  }

  /** A credential a new proxy presents once to prove which workload it runs as. */
  issueBootstrap(workload: string): string {
    const w = Registry.of(this.opts.store.snapshot()).workload(workload);
    if (!w) throw new ZmError(Codes.NOT_FOUND, `no workload ${workload} in the configuration`);
    return this.opts.bootstrap.issue({ workload, spiffe: w.spiffe }, new Date(Date.now() + this.opts.bootstrapTtlMs));
  }

  // ---------- proxies' endpoint ----------

  private authenticate(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): BootstrapIdentity {
    const auth = headers["authorization"];
    if (typeof auth === "string" && auth.startsWith("Bearer ")) return this.opts.bootstrap.verify(auth.slice(7), new Date());
    // Reconnects and rotations: the workload certificate proves the identity; the header names the instance.
    const spiffe = spiffeOf((stream.session?.socket as TLSSocket | undefined)?.getPeerX509Certificate()?.raw);
    const workload = headers["x-zeromesh-workload"];
    const w = typeof workload === "string" ? Registry.of(this.opts.store.snapshot()).workload(workload) : undefined;
    if (!spiffe || !w || w.spiffe !== spiffe) throw new ZmError(Codes.BOOTSTRAP, "present a bootstrap credential, or a workload certificate matching x-zeromesh-workload");
    return { workload: w.id, spiffe };
  }

  private async onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    stream.on("error", () => {});
    const path = headers[":path"];
    const id = this.authenticate(stream, headers);
    if (path === "/v1/certificate") {
      const body = JSON.parse(await readAll(stream)) as { csr?: string };
      const issued = await this.opts.ca.sign(body.csr ?? "", id.spiffe);
      const cert = new X509Certificate(issued.certPem);
      const record: ProxyRecord = this.proxies.get(id.workload) ?? { id: id.workload, connected: false, listeners: {} };
      record.certificate = { serial: cert.serialNumber, notBefore: cert.validFrom, notAfter: cert.validTo, spiffe: id.spiffe };
      this.proxies.set(id.workload, record);
      stream.respond({ ":status": 200, "content-type": "application/json" });
      stream.end(JSON.stringify({ ...issued, notAfter: issued.notAfter.toISOString() }));
      return;
    }
    if (path !== "/v1/stream") throw new ZmError(Codes.NOT_FOUND, `no such endpoint ${path}`);
    this.openSession(stream, id.workload);
  }

  private openSession(stream: ServerHttp2Stream, workload: string): void {
    const old = this.sessions.get(workload);
    if (old) old.stream.close();
    const record: ProxyRecord = this.proxies.get(workload) ?? { id: workload, connected: true, listeners: {} };
    record.connected = true;
    record.connectedAt = new Date().toISOString();
    // A new stream starts from nothing: the proxy gets a full push, and is NOT SENT (not in sync) until it
    // acknowledges one on this stream — what it acknowledged on the last one says nothing about its hello.
    record.sentJson = undefined;
    record.sentVersion = undefined;
    record.nack = undefined;
    this.proxies.set(workload, record);
    const session: Session = { stream, record, leaving: false };
    this.sessions.set(workload, session);
    stream.respond({ ":status": 200, "content-type": "application/x-ndjson" });
    onJsonLines(stream, (m: Parameters<ControlPlane["onProxyMessage"]>[1]) => this.onProxyMessage(session, m));
    stream.on("close", () => {
      if (this.sessions.get(workload) === session) {
        this.sessions.delete(workload);
        record.connected = false;
        if (session.leaving) {
          this.endpoints.leave(workload);
          this.schedulePush();
        } else if (!this.stopping) {
          this.endpoints.lose(workload, Date.now());
          this.expireEndpointsLater();
        }
        this.notifyWaiters();
      }
    });
  }

  private onProxyMessage(session: Session, m: { type: string; version?: number; error?: string; listeners?: Record<string, string>; outbound?: string; stats?: string }): void {
    const record = session.record;
    if (m.type === "egress-blocked") {
      const alerts = AlertLog.fromReport(record.id, m, new Date());
      this.alerts.add(alerts);
      for (const a of alerts) this.opts.audit?.({ ...a });
    } else if (m.type === "leave") {
      session.leaving = true;
      session.stream.end();
    } else if (m.type === "hello") {
      record.listeners = m.listeners ?? {};
      record.outbound = m.outbound;
      record.stats = m.stats;
      this.endpoints.connect(record.id, record.listeners);
      this.schedulePush(0);
    } else if (m.type === "ack" && m.version !== undefined) {
      record.ackedVersion = Math.max(record.ackedVersion ?? 0, m.version);
      this.notifyWaiters();
    } else if (m.type === "nack" && m.version !== undefined) {
      record.nack = { version: m.version, error: m.error ?? "" };
      this.opts.audit?.({ time: new Date().toISOString(), event: "config-rejected", proxy: record.id, version: m.version, error: m.error });
      this.notifyWaiters();
    }
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

  private pushAll(): void {
    this.pending = false;
    const snapshot = this.opts.store.snapshot();
    const reg = Registry.of(snapshot);
    const endpoints = this.endpoints.table();
    const names = this.names(endpoints);
    const version = ++this.pushVersion;
    for (const { stream, record } of this.sessions.values()) {
      const w = reg.workload(record.id);
      if (!w) continue; // removed from config: it keeps its last good configuration until it stops
      const config = buildProxyConfig(snapshot, w, version, endpoints, names, this.opts.outsideRoots);
      const json = JSON.stringify({ ...config, version: 0 });
      if (json === record.sentJson) continue;
      record.sentJson = json;
      record.sentVersion = version;
      stream.write(JSON.stringify({ type: "config", config }) + "\n");
    }
    this.notifyWaiters();
  }

  /** True when no push is pending and every connected proxy acknowledged (or rejected) what it was sent. */
  synced(expected: string[] = []): boolean {
    if (this.pending) return false;
    for (const id of expected) if (!this.sessions.has(id)) return false;
    for (const { record } of this.sessions.values()) {
      const s = syncStatus(record);
      if (s === "STALE" || s === "NOT SENT") return false;
    }
    return true;
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

  private async onAdmin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://admin");
    const route = `${req.method} ${url.pathname}`;
    const store = this.opts.store;
    switch (route) {
      case "GET /v1/proxy-status":
        return this.respond(res, 200, [...this.proxies.values()].map((p) => ({ proxy: p.id, connected: p.connected, status: syncStatus(p), sent: p.sentVersion ?? null, acked: p.ackedVersion ?? null, nack: p.nack ?? null })));
      case "GET /v1/alerts":
        return this.respond(res, 200, this.alerts.list());
      case "GET /v1/proxy-config": {
        const p = this.proxies.get(url.searchParams.get("proxy") ?? "");
        if (!p) throw new ZmError(Codes.NOT_FOUND, `no proxy ${url.searchParams.get("proxy")} has connected`);
        return this.respond(res, 200, { proxy: p.id, status: syncStatus(p), listeners: p.listeners, outbound: p.outbound, stats: p.stats ?? null, certificate: p.certificate ?? null, version: p.sentVersion ?? null, config: p.sentJson ? JSON.parse(p.sentJson) : null });
      }
      case "POST /v1/apply": case "POST /v1/validate": {
        const body = JSON.parse(await readAll(req)) as { files: { file: string; text: string }[]; mesh?: unknown; remove?: ResourceKey[]; cause?: string };
        const issues: Issue[] = [];
        const meshBase = store.snapshot().mesh;
        const mesh = body.mesh !== undefined ? mergeMeshConfig(meshBase, body.mesh, { file: body.cause ?? "apply", doc: 1, path: "mesh" }, issues) : undefined;
        const parsed = parseTexts(body.files, mesh ?? meshBase);
        issues.push(...parsed.issues);
        const errors = errorsOf(issues);
        if (errors.length) return this.respond(res, 422, { code: errors[0]!.code, errors: errors.map(formatIssue) });
        if (route === "POST /v1/validate") return this.respond(res, 200, { resources: parsed.resources.map(keyOf) });
        const event = store.commit({ upsert: parsed.resources, remove: body.remove ?? [], mesh: parsed.mesh ?? mesh, cause: body.cause ?? "admin apply" });
        return this.respond(res, 200, { ...event, warnings: issues.map(formatIssue) });
      }
      case "GET /v1/resources": {
        const kind = url.searchParams.get("kind");
        const ns = url.searchParams.get("namespace");
        const list = [...store.snapshot().resources.values()].filter((r) => (!kind || r.kind.toLowerCase() === kind.toLowerCase()) && (!ns || r.meta.namespace === ns));
        return this.respond(res, 200, { version: store.snapshot().version, items: list.map((r) => manifestOf(r)) });
      }
      case "POST /v1/bootstrap": {
        const body = JSON.parse(await readAll(req)) as { workload: string };
        const spiffe = Registry.of(store.snapshot()).workload(body.workload)?.spiffe;
        return this.respond(res, 200, { token: this.issueBootstrap(body.workload), spiffe, control: this.address, rootPem: this.opts.ca.rootPem });
      }
      case "POST /v1/endpoints": {
        const body = JSON.parse(await readAll(req)) as { workload: string; listeners: Record<string, string> | null };
        this.endpoints.register(body.workload, body.listeners);
        this.schedulePush(0);
        return this.respond(res, 200, { ok: true });
      }
      case "GET /v1/sync": {
        const expected = (url.searchParams.get("proxies") ?? "").split(",").filter(Boolean);
        const ok = await this.waitSynced(expected, Number(url.searchParams.get("timeoutMs") ?? 10_000));
        return this.respond(res, ok ? 200 : 504, { synced: ok, proxies: [...this.proxies.values()].map((p) => ({ proxy: p.id, status: syncStatus(p), connected: p.connected })) });
      }
      default:
        throw new ZmError(Codes.NOT_FOUND, `no admin route ${route}`);
    }
  }

  private fail(stream: ServerHttp2Stream, e: unknown): void {
    const code = e instanceof ZmError ? e.code : "ZM_INTERNAL";
    const status = code === Codes.BOOTSTRAP || code === Codes.CA_IDENTITY ? 403 : e instanceof ZmError ? 400 : 500;
    if (!stream.headersSent) stream.respond({ ":status": status, "content-type": "application/json" });
    stream.end(JSON.stringify({ code, error: (e as Error).message }));
  }
}

function readAll(s: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    s.setEncoding("utf8");
    s.on("data", (c: string) => (data += c));
    s.on("end", () => resolve(data));
    s.on("error", reject);
  });
}
