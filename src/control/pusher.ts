// Pushes: each proxy's configuration, made by config-lines.ts and sent where it differs from what the proxy was
// sent (whole on a new stream, else a delta from what it acknowledged), debounced; and what waits for them (an
// apply that waits until every proxy it concerns enforces it, a sync).
import { Registry } from "../registry/registry.js";
import { configLineStart, deltaLineStart, type EndpointTable } from "../wire/protocol.js";
import { ConfigLines, configOf } from "./config-lines.js";
import { syncStatus, type ProxyRecord } from "./push.js";
import { redactKeys } from "./redact.js";
import type { ControlState, Session } from "./shared.js";

export class Pusher {
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

  constructor(private readonly c: ControlState) {}

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Coalesces bursts of changes into one push. */
  schedule(delay = this.c.opts.debounceMs ?? 50): void {
    this.pending = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.push(), delay);
  }

  /** Cluster DNS for names a proxy may pass through to (ALLOW_ANY), plus the configured outside names. */
  private names(endpoints: EndpointTable): Record<string, string> {
    const reg = Registry.of(this.c.opts.store.snapshot());
    const out: Record<string, string> = { ...this.c.opts.names };
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
  push(one?: Session): void {
    if (!one) this.pending = false;
    const snapshot = this.c.opts.store.snapshot();
    const reg = Registry.of(snapshot);
    const endpoints = this.c.endpoints.table();
    this.lines.begin(snapshot, endpoints, this.names(endpoints), this.c.opts.outsideRoots);
    const version = ++this.pushVersion;
    const sentTo: string[] = [];
    for (const session of one ? [one] : this.c.sessions.values()) {
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
      // What the proxy holds is known once it acknowledged the last configuration sent on this stream: it gets only
      // what changed since. Anything else (a new stream, a rejection, one still unanswered) gets the whole one.
      const held = session.sent;
      const known = held !== undefined && (record.ackedVersion ?? 0) >= held.version && !(record.nack && record.nack.version >= held.version);
      record.sentDigest = body.digest;
      record.sentVersion = version;
      session.sent = { version, parts: body.parts, delta: known };
      sentTo.push(record.id);
      if (known) {
        stream.write(deltaLineStart(version, held.version, record.id));
        stream.write(this.lines.delta(held.parts, body));
      } else {
        stream.write(configLineStart(version, record.id));
        stream.write(body.tail);
      }
    }
    // The bodies' text goes once written: a mesh's worth of whole configurations must not stay until the next push.
    this.lines.end();
    if (one) return this.notify();
    this.pushes = [...this.pushes.slice(-99), { snapshot: snapshot.version, version, sentTo }];
    this.c.nodes?.push(snapshot, endpoints, version);
    if (this.c.opts.pods?.applyServices) {
      this.podRulesPending++;
      // This machine's pods reach the joined nodes' pods by routes too.
      void this.c.opts.pods.applyServices(endpoints, this.c.nodes?.book.routesFor() ?? []).finally(() => {
        this.podRulesPending--;
        this.notify();
      });
    }
    this.notify();
  }

  /** True when no push is pending and every connected proxy acknowledged (or rejected) what it was sent. */
  synced(expected: string[] = []): boolean {
    if (this.pending || this.podRulesPending) return false;
    for (const id of expected) if (!this.c.sessions.has(id)) return false;
    for (const { record, owed } of this.c.sessions.values()) {
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
        const r = this.c.proxies.get(id);
        if (push && r?.nack && r.nack.version >= push.version) return "rejected";
        return push && r && (r.ackedVersion ?? 0) >= push.version ? "acked" : "pending";
      };
      const ids = push?.sentTo ?? [];
      const pending = push ? ids.filter((id) => state(id) === "pending") : ["(not pushed yet)"];
      const left = deadline - Date.now();
      // A proxy whose stream dropped may still be serving (its endpoints stay for the grace) with what it had: it was
      // sent nothing, and cannot be said to enforce the change.
      const disconnected = [...this.c.proxies.values()].filter((p) => !p.connected && p.connectedAt).map((p) => p.id);
      if (!pending.length || left <= 0) return { acked: ids.filter((id) => state(id) === "acked"), rejected: ids.filter((id) => state(id) === "rejected"), pending, disconnected };
      await this.nextChange(left);
    }
  }

  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  async waitSynced(expected: string[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.synced(expected)) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.nextChange(left);
    }
    return true;
  }

  /** Resolves at the next push, ACK, NACK or stream change (notify), or after `ms`. */
  private nextChange(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  /**
   * What a proxy holds, made again from the configuration it would get now (the control plane keeps a digest per
   * proxy, not the text): exactly what it was sent when the digests agree; else it is out of date, and says so.
   */
  sentConfig(p: ProxyRecord): { config: unknown; configNote?: string } {
    const w = Registry.of(this.c.opts.store.snapshot()).workload(p.id);
    if (!w || p.sentVersion === undefined || !p.sentDigest) return { config: null };
    const endpoints = this.c.endpoints.table();
    const lines = new ConfigLines();
    lines.begin(this.c.opts.store.snapshot(), endpoints, this.names(endpoints), this.c.opts.outsideRoots);
    const body = lines.body(w);
    // As Envoy's config dump: private keys are never shown (the proxy holds them; an operator needs chains and serials).
    const config = redactKeys(configOf(p.sentVersion, p.id, body));
    return body.digest === p.sentDigest ? { config } : { config, configNote: `the proxy holds an older configuration than this one, which it is about to get` };
  }
}
