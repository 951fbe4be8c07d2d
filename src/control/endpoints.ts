// Where live endpoints listen, as the control plane learns them: proxies
// report their own listeners when they connect, whoever starts a workload
// without a sidecar registers it. A proxy whose stream drops keeps serving on
// its last configuration, so its endpoints are remembered for a grace period
// rather than withdrawn from everyone at once; only a proxy that says it is
// leaving is withdrawn at once. The book is kept in the state directory: a
// restarted control plane would otherwise push configurations that lack every
// proxy that has not reconnected yet, and the first to reconnect would lose
// their routes to the others (Istio keeps endpoints in Kubernetes, not in
// istiod, for the same reason). Pure apart from its file; time is passed in.
import { readFileSync } from "node:fs";
import { saveStateFile } from "../store/state-file.js";
import type { EndpointTable } from "../wire/protocol.js";

interface Saved {
  /** Listeners of proxies, as they last reported them. */
  sidecars: EndpointTable;
  /** Listeners of workloads without a sidecar, as registered. */
  plain: EndpointTable;
}

interface Remembered {
  listeners: Record<string, string>;
  /** When it is forgotten unless the proxy reconnects (ms since the epoch). */
  until: number;
}

export class EndpointBook {
  private readonly connected: EndpointTable = {};
  private readonly remembered = new Map<string, Remembered>();

  /** The last save's failure, so a broken state directory is reported once, not at every change. */
  private failing?: string;

  private constructor(
    private readonly file: string | undefined,
    private readonly graceMs: number,
    private readonly plain: EndpointTable,
    private readonly onSaveError: (message: string) => void,
  ) {}

  /**
   * The book as last saved in `file` (none or unreadable: empty), every proxy in it remembered for the grace from `now`.
   * Without a file nothing survives a restart.
   */
  static open(file: string | undefined, graceMs: number, now: number, onSaveError: (message: string) => void = () => {}): EndpointBook {
    const saved = (file && readSaved(file)) || { sidecars: {}, plain: {} };
    const book = new EndpointBook(file, graceMs, saved.plain, onSaveError);
    for (const [id, listeners] of Object.entries(saved.sidecars)) book.remembered.set(id, { listeners, until: now + graceMs });
    return book;
  }

  /** Proxies whose endpoints are served although they are not connected. */
  awaited(): string[] {
    return [...this.remembered.keys()];
  }

  /** Every endpoint to push: registered, connected, and remembered. */
  table(): EndpointTable {
    return { ...this.plain, ...this.sidecars() };
  }

  private sidecars(): EndpointTable {
    const t: EndpointTable = {};
    for (const [id, r] of this.remembered) t[id] = r.listeners;
    return Object.assign(t, this.connected);
  }

  connect(workload: string, listeners: Record<string, string>): void {
    this.remembered.delete(workload);
    this.connected[workload] = listeners;
    this.save();
  }

  /** The proxy's stream dropped: it may still serve, so its endpoints stay for the grace. */
  lose(workload: string, now: number): void {
    const listeners = this.connected[workload];
    if (!listeners) return;
    delete this.connected[workload];
    this.remembered.set(workload, { listeners, until: now + this.graceMs });
    this.save();
  }

  /** The proxy said it is stopping: withdrawn at once. */
  leave(workload: string): void {
    delete this.connected[workload];
    this.remembered.delete(workload);
    this.save();
  }

  register(workload: string, listeners: Record<string, string> | null): void {
    if (listeners) this.plain[workload] = listeners;
    else delete this.plain[workload];
    this.save();
  }

  /** Forgets proxies whose grace ended by `now`; returns them. */
  expire(now: number): string[] {
    const gone = [...this.remembered].filter(([, r]) => r.until <= now).map(([id]) => id);
    for (const id of gone) this.remembered.delete(id);
    if (gone.length) this.save();
    return gone;
  }

  /** When the next remembered proxy is due to be forgotten. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const r of this.remembered.values()) if (next === undefined || r.until < next) next = r.until;
    return next;
  }

  private save(): void {
    if (!this.file) return;
    const saved: Saved = { sidecars: this.sidecars(), plain: this.plain };
    try {
      saveStateFile(this.file, saved);
      this.failing = undefined;
    } catch (e) {
      // The book in memory still serves; only a restart would lose what was not saved.
      const message = `cannot save endpoints to ${this.file} (${(e as Error).message}); check that the state directory is writable`;
      if (message !== this.failing) this.onSaveError(message);
      this.failing = message;
    }
  }
}

function readSaved(file: string): Saved | undefined {
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as Partial<Saved>;
    return { sidecars: isTable(s.sidecars) ? s.sidecars : {}, plain: isTable(s.plain) ? s.plain : {} };
  } catch {
    return undefined;
  }
}

const isTable = (t: unknown): t is EndpointTable =>
  typeof t === "object" && t !== null && Object.values(t).every((l) => typeof l === "object" && l !== null && Object.values(l).every((a) => typeof a === "string"));
