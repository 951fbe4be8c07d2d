// The proxies' config streams: one per proxy, opened with its certificate. What a proxy says on it (hello with its
// listeners, ACK/NACK, reports of blocked egress and denials, leave) is checked (wire/protocol.ts) and taken here;
// a proxy that breaks the protocol loses its stream, and nobody else is affected.
import type { ServerHttp2Stream } from "node:http2";
import { Codes } from "../api/errors.js";
import { Registry } from "../registry/registry.js";
import { onJsonLines } from "../wire/ndjson.js";
import { checkProxyMessage, type ProxyMessage } from "../wire/protocol.js";
import { AlertLog } from "./alerts.js";
import { DenialLog } from "./denials.js";
import { LIMITS } from "./limits.js";
import type { ProxyRecord } from "./push.js";
import type { Pusher } from "./pusher.js";
import type { ControlState, ReportType, Session } from "./shared.js";

/** A proxy's reports (blocked egress, denials) closer together than this are ignored (proxies send each once a second). */
const REPORT_MIN_MS = 500;

export class ProxyStreams {
  /** Blocked egress the proxies reported, as alerts. */
  readonly alerts = new AlertLog();
  /** Refusals the proxies reported. */
  readonly denials = new DenialLog();

  constructor(
    private readonly c: ControlState,
    private readonly pusher: Pusher,
    private readonly hooks: { targetsChanged(): void; expireLater(): void; stopping(): boolean },
  ) {}

  /** Closes every stream (the control plane is stopping). */
  closeAll(): void {
    for (const s of this.c.sessions.values()) s.stream.close();
  }

  open(stream: ServerHttp2Stream, workload: string): void {
    const old = this.c.sessions.get(workload);
    if (old) old.stream.close();
    const record: ProxyRecord = this.c.proxies.get(workload) ?? { id: workload, connected: true, listeners: {} };
    record.connected = true;
    record.connectedAt = new Date().toISOString();
    // A new stream starts from nothing: the proxy gets a full push, and is NOT SENT (not in sync) until it
    // acknowledges one on this stream — what it acknowledged on the last one says nothing about its hello.
    record.sentDigest = undefined;
    record.sentVersion = undefined;
    record.nack = undefined;
    this.c.proxies.set(workload, record);
    const session: Session = { stream, record, leaving: false, helloSeen: false, lastReport: { "egress-blocked": 0, denials: 0 }, owed: false };
    // At most one configuration waits in a proxy's stream: a slow reader gets the latest when it has taken the last,
    // never a queue of every push in between (a mesh of thousands would hold gigabytes for its slowest proxies).
    stream.on("drain", () => {
      if (!session.owed) return;
      session.owed = false;
      this.pusher.push(session);
    });
    this.c.sessions.set(workload, session);
    stream.respond({ ":status": 200, "content-type": "application/x-ndjson" });
    onJsonLines(stream, (m: unknown) => {
      const checked = checkProxyMessage(m);
      if (typeof checked === "string") return this.drop(session, checked);
      this.onMessage(session, checked);
    }, { maxLine: LIMITS.proxyLineBytes, onBad: (why) => this.drop(session, why) });
    stream.on("close", () => {
      if (this.c.sessions.get(workload) === session) {
        this.c.sessions.delete(workload);
        record.connected = false;
        if (session.leaving) {
          this.c.proxies.delete(workload);
          this.c.endpoints.leave(workload);
          this.pusher.schedule();
        } else if (!this.hooks.stopping()) {
          this.c.endpoints.lose(workload, Date.now());
          this.hooks.expireLater();
        }
        this.hooks.targetsChanged();
        this.pusher.notify();
      }
    });
  }

  /** A proxy that sends what the protocol does not allow loses its stream (it reconnects); everyone else is unaffected. */
  private drop(session: Session, why: string): void {
    this.c.audit("proxy-message-rejected", { proxy: session.record.id, why, code: Codes.BAD_MESSAGE });
    session.stream.close();
  }

  private onMessage(session: Session, m: ProxyMessage): void {
    const record = session.record;
    if ((m.type === "egress-blocked" || m.type === "denials") && !this.takesReport(session, m.type)) return;
    if (m.type === "egress-blocked") {
      const alerts = AlertLog.fromReport(record.id, m as Parameters<typeof AlertLog.fromReport>[1], new Date());
      this.alerts.add(alerts);
      for (const a of alerts) {
        this.c.opts.audit?.({ ...a });
        this.c.opts.notifier?.notify(`*Egress blocked* by ${a.policy ?? "REGISTRY_ONLY"}: \`${a.proxy}\` → ${a.protocol} \`${a.host}:${a.port}\`, ${a.count} time${a.count === 1 ? "" : "s"} (${a.first} – ${a.last}). ${a.reason}`);
      }
    } else if (m.type === "denials") {
      this.denials.add(DenialLog.fromReport(record.id, m, new Date()));
    } else if (m.type === "leave") {
      session.leaving = true;
      session.stream.end();
    } else if (m.type === "hello") {
      if (session.helloSeen) return this.drop(session, "a second hello on one stream");
      session.helloSeen = true;
      // A proxy announces listeners on its own workload's address only: never someone else's endpoints.
      // In a pod, that is the pod's IP, which its node gave it (assignPodAddress).
      const w = Registry.of(this.c.opts.store.snapshot()).workload(record.id);
      const own = this.c.podAddresses.get(record.id) ?? w?.address;
      const foreign = Object.values(m.listeners).find((a) => w && a.slice(0, a.lastIndexOf(":")) !== own);
      if (foreign) return this.drop(session, `hello announces ${foreign}, not on the workload's address ${own}`);
      record.listeners = m.listeners;
      record.outbound = m.outbound;
      record.stats = m.stats;
      this.hooks.targetsChanged();
      // An empty table of listeners is no endpoint at all: nothing for the others to learn.
      const before = JSON.stringify(this.c.endpoints.table()[record.id] ?? {});
      this.c.endpoints.connect(record.id, record.listeners);
      // The new proxy gets its configuration now; the others only if its listeners changed what they may reach,
      // and then in one push with every other hello of the moment (a mesh starting is thousands of hellos).
      this.pusher.push(session);
      if (JSON.stringify(record.listeners) !== before) this.pusher.schedule();
    } else if (m.type === "ack" && m.version !== undefined) {
      record.ackedVersion = Math.max(record.ackedVersion ?? 0, m.version);
      this.pusher.notify();
    } else if (m.type === "nack" && m.resync) {
      // The proxy could not apply a delta to what it holds: it gets its whole configuration (a whole one is never resent).
      if (m.version !== record.sentVersion || !session.sent?.delta) return;
      this.c.audit("config-resync", { proxy: record.id, version: m.version, why: m.error });
      session.sent = undefined;
      record.sentDigest = undefined;
      this.pusher.push(session);
    } else if (m.type === "nack" && m.version !== undefined) {
      // One audit line per rejected version, however often the proxy says it.
      if (record.nack?.version !== m.version) this.c.audit("config-rejected", { proxy: record.id, version: m.version, error: m.error });
      record.nack = { version: m.version, error: m.error ?? "" };
      this.pusher.notify();
    }
  }

  /** Whether a report of this kind is taken now: a proxy that reports faster than proxies do cannot crowd out the others' alerts and denials. */
  private takesReport(session: Session, type: ReportType): boolean {
    const now = Date.now();
    if (now - session.lastReport[type] < REPORT_MIN_MS) return false;
    session.lastReport[type] = now;
    return true;
  }
}
