// A sidecar's link to the control plane: certificate issuance and rotation,
// and the configuration stream (reconnecting with backoff). The sidecar keeps
// serving its last good configuration whenever the control plane is away.
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { createCsrInChild, type CsrAndKey } from "../ca/csr-child.js";
import { onJsonLines } from "../wire/ndjson.js";
import { CERTIFICATE_PATH, KEEPALIVE_MS, STREAM_PATH, WORKLOAD_HEADER, checkControlIdentity, controlMessage } from "../wire/protocol.js";
import type { Credentials } from "./credentials.js";
import { Sidecar, type SidecarOptions } from "./sidecar.js";

export interface AgentOptions {
  /** host:port of the control plane's proxy endpoint. */
  control: string;
  rootPem: string;
  /** Bootstrap credential proving the workload, used until a certificate is held. */
  token: string;
  spiffe: string;
  rotateAt: number;
  sidecar: SidecarOptions;
  events?: (e: Record<string, unknown>) => void;
  /** The first certificate request, already being made (the process starts it before loading the proxy, to overlap the two). */
  firstCsr?: Promise<CsrAndKey>;
  /** How long the stream may carry nothing before a keepalive (KEEPALIVE_MS; tests shorten it). */
  keepaliveMs?: number;
}

/** The largest configuration a proxy takes in one message. */
const MAX_CONFIG_BYTES = 256 * 1024 * 1024;

/** How often blocked egress is reported: alerts within about a second, one message per interval however many requests. */
const BLOCKED_EGRESS_REPORT_MS = 1000;

export class ProxyAgent {
  readonly sidecar: Sidecar;
  private session?: ClientHttp2Session;
  private stream?: ClientHttp2Stream;
  /** Sends on the current configuration stream (none while disconnected). */
  private send?: (m: unknown) => void;
  private reporting?: NodeJS.Timeout;
  private stopped = false;
  private rotation?: NodeJS.Timeout;
  private backoffMs = 100;
  /** When the stream last carried a message from this proxy. */
  private lastSent = 0;
  /** The key and CSR for the next rotation. */
  private nextCsr?: Promise<CsrAndKey>;

  constructor(private readonly opts: AgentOptions) {
    this.sidecar = new Sidecar(opts.sidecar);
    this.nextCsr = opts.firstCsr;
  }

  private event(e: Record<string, unknown>): void {
    this.opts.events?.({ time: new Date().toISOString(), proxy: this.opts.sidecar.id, ...e });
  }

  async start(): Promise<void> {
    await this.sidecar.start(); // listeners come up failing closed
    await this.renewCertificate();
    void this.streamLoop();
    this.reporting = setInterval(() => this.reportBlockedEgress(), BLOCKED_EGRESS_REPORT_MS);
    this.reporting.unref();
  }

  /** Blocked egress since the last report, for the control plane's alerts; kept counting while disconnected. */
  private reportBlockedEgress(): void {
    if (!this.send) return;
    const counted = this.sidecar.blockedEgress.take();
    if (counted) this.send({ type: "egress-blocked", ...counted });
    const denied = this.sidecar.denials.take();
    if (denied) this.send({ type: "denials", ...denied });
    // The control plane closes a connection that carries nothing for a while: an idle proxy says it is there.
    if (Date.now() - this.lastSent >= (this.opts.keepaliveMs ?? KEEPALIVE_MS)) this.send({ type: "keepalive" });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rotation);
    clearInterval(this.reporting);
    await this.leave();
    this.session?.destroy();
    await this.sidecar.stop();
  }

  /** Tells the control plane this proxy is going, so its endpoints are withdrawn now rather than after the grace for a lost stream. */
  private leave(): Promise<void> {
    const stream = this.stream;
    if (!stream || stream.closed || stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      // A control plane that does not answer must not hold up stopping.
      const t = setTimeout(resolve, 1000);
      stream.once("close", () => {
        clearTimeout(t);
        resolve();
      });
      stream.end(JSON.stringify({ type: "leave" }) + "\n");
    });
  }

  private connectSession(): ClientHttp2Session {
    const creds = this.sidecar.credentials();
    const s = connect(`https://${this.opts.control}`, {
      ca: this.opts.rootPem, cert: creds ? creds.certPem + creds.chainPem : undefined, key: creds?.keyPem,
      checkServerIdentity: checkControlIdentity,
    });
    s.on("error", () => {});
    return s;
  }

  private authHeaders(): Record<string, string> {
    return this.sidecar.credentials() ? { [WORKLOAD_HEADER]: this.opts.sidecar.id } : { authorization: `Bearer ${this.opts.token}` };
  }

  /** Sends a fresh CSR (the key stays with this proxy; a child process makes both) and swaps credentials; retries until it succeeds. */
  private async renewCertificate(): Promise<void> {
    for (;;) {
      let csr: CsrAndKey | undefined;
      try {
        // Made ahead (right after the last certificate arrived), so a rotation waits only for the control plane.
        const ahead = this.nextCsr;
        this.nextCsr = undefined;
        // A request made ahead that failed is made again now; a fresh one that fails is retried by this loop.
        csr = await (ahead?.catch(() => createCsrInChild(this.opts.spiffe)) ?? createCsrInChild(this.opts.spiffe));
        const { csrPem, keyPem } = csr;
        const session = this.connectSession();
        const body = await new Promise<string>((resolve, reject) => {
          const req = session.request({ ":method": "POST", ":path": CERTIFICATE_PATH, ...this.authHeaders() });
          let data = "";
          let status = 0;
          req.on("response", (h) => (status = Number(h[":status"])));
          req.setEncoding("utf8");
          req.on("data", (c: string) => (data += c));
          req.on("end", () => (status === 200 ? resolve(data) : reject(new Error(`certificate refused (${status}): ${data}`))));
          req.on("error", reject);
          // A stalled request must not stall rotation: give up and retry.
          req.setTimeout(10_000, () => {
            req.close();
            reject(new Error("certificate request timed out"));
          });
          req.end(JSON.stringify({ csr: csrPem }));
        }).finally(() => session.close());
        const issued = JSON.parse(body) as { certPem: string; chainPem: string; rootPem: string; notAfter: string };
        const creds: Credentials = { certPem: issued.certPem, chainPem: issued.chainPem, rootPem: issued.rootPem, keyPem, notAfter: new Date(issued.notAfter) };
        this.sidecar.setCredentials(creds);
        this.nextCsr = createCsrInChild(this.opts.spiffe);
        this.nextCsr.catch(() => {}); // a failure here is retried at rotation time
        this.event({ event: "certificate", notAfter: issued.notAfter });
        const lifetime = creds.notAfter.getTime() - Date.now();
        this.rotation = setTimeout(() => void this.renewCertificate(), Math.max(1000, lifetime * this.opts.rotateAt));
        this.rotation.unref();
        return;
      } catch (e) {
        if (this.stopped) return;
        // The same CSR asks again: a bootstrap credential buys the certificate of one CSR, whose answer may have been lost.
        if (csr) this.nextCsr = Promise.resolve(csr);
        this.event({ event: "certificate-error", error: (e as Error).message });
        await sleep(this.nextBackoff());
      }
    }
  }

  private nextBackoff(): number {
    const b = this.backoffMs;
    this.backoffMs = Math.min(5000, this.backoffMs * 2);
    return b;
  }

  private async streamLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.runStream();
      } catch (e) {
        this.event({ event: "stream-error", error: (e as Error).message });
      }
      if (!this.stopped) await sleep(this.nextBackoff());
    }
  }

  private runStream(): Promise<void> {
    return new Promise((resolve, reject) => {
      const session = (this.session = this.connectSession());
      session.on("close", () => resolve());
      const req = (this.stream = session.request({ ":method": "POST", ":path": STREAM_PATH, ...this.authHeaders() }, { endStream: false }));
      const send = (m: unknown) => {
        req.write(JSON.stringify(m) + "\n");
        this.lastSent = Date.now();
      };
      req.on("response", (h) => {
        if (Number(h[":status"]) !== 200) return reject(new Error(`stream refused with ${h[":status"]}`));
        this.backoffMs = 100;
        this.event({ event: "connected" });
        send({ type: "hello", listeners: this.sidecar.listeners, outbound: this.sidecar.outboundAddress, stats: this.sidecar.statsAddress });
        this.send = send;
      });
      onJsonLines(req, (line: unknown) => {
        const m = controlMessage(line);
        if (!m) return;
        const r = m.type === "config" ? this.sidecar.applyConfig(m.config) : this.sidecar.applyDelta(m.delta);
        send(r.ack ? { type: "ack", version: r.version } : { type: "nack", version: r.version, error: r.error, ...(r.resync ? { resync: true } : {}) });
        this.event({ event: r.ack ? "config-applied" : "config-rejected", version: r.version, ...(m.type === "delta" ? { delta: true } : {}), ...(r.ack ? {} : { error: r.error }) });
      }, {
        maxLine: MAX_CONFIG_BYTES,
        // The proxy keeps its last good configuration and reconnects.
        onBad: (why) => {
          this.event({ event: "stream-error", error: `the control plane sent ${why}` });
          session.close();
        },
      });
      req.on("close", () => {
        if (this.stream === req) this.send = undefined;
        session.close();
        resolve();
      });
      req.on("error", reject);
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
